/**
 * The progress line of `qasynth run` / `watch`: a pure layout (`formatProgressLine`, unit-tested at several widths)
 * and a one-line terminal view (`ProgressView`) that redraws it in place, prints notes above it, and renders its
 * last frame from the same snapshot the summary is printed from.
 */
import stringWidth from 'string-width';
import type { LiveProgress } from '../client/progress';

/** `45s`, `3m05s`, `2h07m` (ms in; rounded down to the second). */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `950`, `12.3k`, `4.56M` (three significant digits from 10,000 up; exact below). */
export function formatCount(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 2 : 1)}M`;
}

/** `$0.0123` below a dollar, `$12.34` above. */
export function formatCost(usd: number): string {
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** A piece of the line: its full and compact text, and how early it is dropped when the line is too long. */
interface Segment {
  full: string;
  compact: string;
  /** Higher goes first when space runs out. */
  drop: number;
}

const SEP = ' · ';

/** The seed text cut at a word boundary to `max` columns, with `…` when cut; '' when no word fits. */
function cutWords(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (stringWidth(t) <= max) return t;
  let out = '';
  for (const w of t.split(' ')) {
    const next = out ? `${out} ${w}` : w;
    if (stringWidth(next) + 1 > max) break;
    out = next;
  }
  return out ? `${out}…` : '';
}

/** The numbers every frame and the summary share (full forms): `30 QA`, `323 LLM calls`, `57.3k tokens`, … */
function totalsSegments(p: LiveProgress): Segment[] {
  const segs: Segment[] = [
    { full: `${p.qa} QA`, compact: `${p.qa} QA`, drop: 1 },
    { full: `${p.llm_calls} LLM calls`, compact: `${formatCount(p.llm_calls)} calls`, drop: 1 },
    { full: `${formatCount(p.input_tokens + p.output_tokens)} tokens`, compact: `${formatCount(p.input_tokens + p.output_tokens)} tok`, drop: 5 },
  ];
  if (p.cost_usd > 0) segs.push({ full: formatCost(p.cost_usd), compact: formatCost(p.cost_usd), drop: 4 });
  if (p.seeds_failed) segs.push({ full: `${p.seeds_failed} failed`, compact: `${p.seeds_failed} failed`, drop: 1 });
  if (p.seeds_no_qa) segs.push({ full: `${p.seeds_no_qa} no QA`, compact: `${p.seeds_no_qa} no QA`, drop: 2 });
  if (p.elapsed_ms !== null) segs.push({ full: formatDuration(p.elapsed_ms), compact: formatDuration(p.elapsed_ms), drop: 3 });
  return segs;
}

/**
 * The run's totals as the summary prints them — the same words as the last frame's: `30 QA · 323 LLM calls ·
 * 57.3k tokens · $0.0123 · 1 failed · 1m05s`.
 */
export function formatTotals(p: LiveProgress): string {
  return totalsSegments(p).map((s) => s.full).join(SEP);
}

const PHASE_LABEL: Record<LiveProgress['phase'], string> = {
  preparing: 'preparing',
  running: '',
  writing: 'writing outputs',
  cancelling: 'cancelling',
  done: 'done',
};

/**
 * The progress line for a terminal `width` columns wide: at most width − 1 columns (the cursor never wraps), made
 * of whole segments — `[██░░] 12/30 seeds · 3 running · 45 QA · 312 LLM calls · 57.3k tokens · $0.0123 · 1 failed
 * · 1m05s · ETA 3m10s · ✗ src_ab12 "Who wrote…"`. When it does not fit, segments switch to compact forms
 * (`312 calls`, `3 run`, `57k tok`), then the least useful are left out (the failed seed's name, the bar, tokens,
 * cost, …); the seed count is always there. Never cut inside a word. Pure.
 */
export function formatProgressLine(p: LiveProgress, width: number): string {
  const max = Math.max(10, width - 1);
  const segs: Segment[] = [];
  const label = p.paused ? (p.pause_reason ? 'paused by the circuit breaker' : 'paused') : PHASE_LABEL[p.phase];
  if (label) segs.push({ full: label, compact: p.paused ? 'paused' : label, drop: 0 });
  segs.push({ full: `${p.seeds_done}/${p.seeds_total} seeds`, compact: `${p.seeds_done}/${p.seeds_total}`, drop: 0 });
  if (!p.final) segs.push({ full: `${p.seeds_running} running`, compact: `${p.seeds_running} run`, drop: 4 });
  segs.push(...totalsSegments(p));
  if (!p.final && p.eta_ms !== null && p.eta_ms > 0) segs.push({ full: `ETA ${formatDuration(p.eta_ms)}`, compact: `ETA ${formatDuration(p.eta_ms)}`, drop: 3 });
  const failed = p.failed_seeds[p.failed_seeds.length - 1];
  if (failed) {
    const mark = failed.status === 'no_qa' ? '∅' : '✗';
    segs.push({ full: `${mark} ${failed.source_id}`, compact: `${mark} ${failed.source_id}`, drop: 7 });
  }
  const barWidth = 20;
  const filled = p.seeds_total > 0 ? Math.round((barWidth * p.seeds_done) / p.seeds_total) : 0;
  const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
  const seedsAt = segs.findIndex((s) => s.drop === 0 && s.full.endsWith(' seeds'));

  const render = (list: Segment[], compact: boolean, withBar: boolean) =>
    list.map((s) => (withBar && s === segs[seedsAt] ? `${bar} ` : '') + (compact ? s.compact : s.full)).join(SEP);
  // Less and less: without the bar, without the failed seed's name, compact forms, then segments left out.
  let withBar = true;
  let compact = false;
  let list = [...segs];
  const fits = () => stringWidth(render(list, compact, withBar)) <= max;
  if (!fits()) withBar = false;
  if (!fits()) list = list.filter((s) => s.drop !== 7);
  if (!fits()) compact = true;
  while (!fits() && list.some((s) => s.drop > 0)) {
    const worst = Math.max(...list.map((s) => s.drop));
    const i = list.map((s) => s.drop).lastIndexOf(worst);
    list.splice(i, 1);
  }
  let line = render(list, compact, withBar);
  // The failed seed's text, in whatever room is left (whole words).
  const named = failed && list.some((s) => s.drop === 7);
  if (named && failed.text) {
    const room = max - stringWidth(line) - 3;
    const text = room >= 8 ? cutWords(failed.text, room) : '';
    if (text) line += ` "${text}"`;
  }
  // A width too small even for the seed count: whole segments only, as many as fit.
  if (stringWidth(line) > max) {
    const parts = line.split(SEP);
    line = parts[0]!;
    for (const part of parts.slice(1)) {
      if (stringWidth(`${line}${SEP}${part}`) > max) break;
      line += `${SEP}${part}`;
    }
    if (stringWidth(line) > max) line = '';
  }
  return line;
}

/** A writable terminal stream as the view needs it. */
export interface ViewStream {
  write(s: string): boolean;
  columns?: number;
  isTTY?: boolean;
}

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_LINE = '\r\x1b[2K';

/**
 * One line at the bottom of a terminal, redrawn in place (`\r`, erase line): `update()` draws a snapshot,
 * `note()` prints a line above it, `finish()` draws the last frame and ends the line. Off a terminal it prints a
 * `progress: …` line when the numbers change, at most every `plainEveryMs`.
 */
export class ProgressView {
  private last: LiveProgress | null = null;
  private drawn = '';
  private plainAt = 0;
  private started = false;

  constructor(
    private readonly out: ViewStream,
    private readonly opts: { plainEveryMs?: number; fallbackWidth?: number } = {},
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  private width(): number {
    return this.out.columns || this.opts.fallbackWidth || 80;
  }

  /** Draws a snapshot. */
  update(p: LiveProgress): void {
    this.last = p;
    const line = formatProgressLine(p, this.tty ? this.width() : 200);
    if (this.tty) {
      if (!this.started) this.out.write(HIDE_CURSOR);
      this.started = true;
      if (line !== this.drawn) this.out.write(`${CLEAR_LINE}${line}`);
      this.drawn = line;
    } else if (line !== this.drawn && Date.now() - this.plainAt >= (this.opts.plainEveryMs ?? 5000)) {
      this.out.write(`progress: ${line}\n`);
      this.drawn = line;
      this.plainAt = Date.now();
    }
  }

  /** Prints `text` on its own line(s) above the progress line. */
  note(text: string): void {
    if (this.tty && this.started) {
      this.out.write(`${CLEAR_LINE}${text}\n${this.drawn}`);
    } else this.out.write(`${text}\n`);
  }

  /** Draws the last frame (`final`, the snapshot the summary is printed from) and leaves the line. */
  finish(final?: LiveProgress): void {
    const p = final ?? this.last;
    if (this.tty) {
      if (p) this.out.write(`${CLEAR_LINE}${formatProgressLine(p, this.width())}\n`);
      if (this.started || p) this.out.write(SHOW_CURSOR);
    } else if (p && final) {
      this.out.write(`progress: ${formatProgressLine(p, 200)}\n`);
    }
    this.started = false;
    this.drawn = '';
  }

  /** Leaves the line as it is (interrupted): the cursor is shown again. */
  abandon(): void {
    if (this.tty && this.started) this.out.write(`\n${SHOW_CURSOR}`);
    this.started = false;
  }
}
