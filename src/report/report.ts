/**
 * `qasynth report`: one static, self-contained HTML page for a run — no server, no network (inline CSS and one
 * inline script, allowed by a Content-Security-Policy that allows nothing else: no remote fetch, no image, no
 * other script). Sections: summary, yield funnel (statistics `funnel`, when the run has one), tokens and cost,
 * errors grouped by reason, each seed's tree (SVG: nodes coloured by outcome, selected paths highlighted), and
 * every QA with its trajectory and sources, filtered by a search box.
 *
 * Seed text, model output and tool output are untrusted: every value goes through `escapeHtml`, and no data is put
 * into the script (the filter reads the rendered text).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CompactNode, QaRecord, RejectedQaRecord, YieldFunnel } from '../shared/types';
import { openRun } from '../export/run-folder';
import { layoutTree } from './tree-layout';
import { loadRunData, qaSources, qaSteps, type RunData, type SeedView } from './run-data';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const e = escapeHtml;

/** Characters of an observation shown per step in the report (the full text is in the trajectories file). */
export const REPORT_OBSERVATION_CHARS = 600;

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}… (${s.length - n} more characters)` : s;
}

function num(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const CSS = `
:root{--ok:#2e7d32;--error:#c62828;--refused:#ef6c00;--sel:#1565c0;--muted:#666;--line:#ddd}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 24px}header h1{margin:0 0 4px;font-size:20px}header p{margin:0;color:#cfd8dc}
main{padding:8px 24px 48px;max-width:1400px}section{margin:24px 0}h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.muted,.absent{color:var(--muted)}
.bar{display:inline-block;height:10px;background:#90caf9;vertical-align:middle}
.seed{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:12px 0}
.seed h3{margin:0 0 6px;font-size:15px}.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;color:#fff;background:#757575}
.badge.succeeded{background:var(--ok)}.badge.failed{background:var(--error)}.badge.no_qa,.badge.budget_exhausted{background:var(--refused)}
.tree-wrap{overflow-x:auto}svg.tree .edge{stroke:#bbb;stroke-width:1.5}svg.tree .edge.selected{stroke:var(--sel);stroke-width:3}
svg.tree .node circle{stroke:#fff;stroke-width:1.5}svg.tree .node.ok circle{fill:var(--ok)}svg.tree .node.error circle{fill:var(--error)}
svg.tree .node.refused circle{fill:var(--refused)}svg.tree .node.selected circle{stroke:var(--sel);stroke-width:3.5}
.legend span{margin-right:12px}.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
.qa{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}.qa.rejected{border-color:var(--refused)}
.qa .q{font-weight:600}.qa .a{color:var(--ok)}.qa.rejected .reason{color:var(--refused)}
.steps td pre{margin:0;white-space:pre-wrap;word-break:break-word;max-width:700px;font-size:12px}
#filter{font-size:15px;padding:6px 8px;width:420px;max-width:100%}code{font-size:12px}
.hidden{display:none}.warning{color:var(--error);font-weight:600}
`;

/** The page's only script: the QA filter (every term must occur in the QA's text, case-insensitive). */
const SCRIPT = `
(function(){
  var box=document.getElementById('filter');var count=document.getElementById('qa-count');
  var items=Array.prototype.slice.call(document.querySelectorAll('.qa'));
  var texts=items.map(function(el){return el.textContent.toLowerCase();});
  function apply(){
    var terms=box.value.toLowerCase().split(/\\s+/).filter(Boolean);var shown=0;
    items.forEach(function(el,i){var ok=terms.every(function(t){return texts[i].indexOf(t)>=0;});el.classList.toggle('hidden',!ok);if(ok)shown++;});
    count.textContent=shown+' of '+items.length+' QA shown';
  }
  box.addEventListener('input',apply);apply();
})();
`;

const FUNNEL_STAGES: [keyof YieldFunnel, string][] = [
  ['seeds', 'seeds'],
  ['seeds_with_qa', 'seeds with a kept QA'],
  ['nodes', 'tree nodes explored'],
  ['paths', 'paths selected'],
  ['qa_written', 'QA written'],
  ['qa_grounded', 'QA grounded'],
  ['qa_verified', 'QA verified'],
  ['qa_kept', 'QA kept (after dedup)'],
];

function funnelSection(funnel: YieldFunnel | undefined, keptInFile: number, hasQaFile: boolean): string {
  if (!funnel) {
    return `<section id="funnel"><h2>Yield funnel</h2><p class="absent" id="funnel-absent">This run's statistics have no yield funnel (written by a qasynth version before the funnel existed, or the run has not written its statistics yet).</p></section>`;
  }
  const max = Math.max(1, ...FUNNEL_STAGES.map(([k]) => Number(funnel[k]) || 0));
  const rows = FUNNEL_STAGES.map(
    ([k, label]) =>
      `<tr data-stage="${e(k)}"><th>${e(label)}</th><td class="n funnel-value">${e(num(Number(funnel[k])))}</td><td><span class="bar" style="width:${Math.round((300 * (Number(funnel[k]) || 0)) / max)}px"></span></td></tr>`,
  ).join('');
  const losses = (funnel.losses ?? [])
    .map((l) => `<tr class="loss"><td>${e(l.stage)}</td><td>${e(l.reason)}</td><td class="n">${e(num(l.count))}</td></tr>`)
    .join('');
  // The funnel's invariant (src/shared/types.ts YieldFunnel): qa_kept = lines of the QA file.
  const mismatch =
    hasQaFile && funnel.qa_kept !== keptInFile
      ? `<p class="warning" id="funnel-mismatch">The funnel says ${e(num(funnel.qa_kept))} QA kept, but the QA file has ${e(num(keptInFile))}: the statistics and the QA file disagree (were the files edited, or written by different executions?).</p>`
      : '';
  return `<section id="funnel"><h2>Yield funnel</h2>${mismatch}<table class="funnel">${rows}</table>
<h3>Losses</h3>${losses ? `<table class="losses"><tr><th>stage</th><th>reason</th><th class="n">count</th></tr>${losses}</table>` : '<p class="muted">none</p>'}</section>`;
}

function countsTable(id: string, title: string, rec: Record<string, number> | undefined, key = 'reason'): string {
  const entries = Object.entries(rec ?? {}).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return `<h3>${e(title)}</h3><p class="muted" id="${e(id)}">none</p>`;
  return `<h3>${e(title)}</h3><table id="${e(id)}"><tr><th>${e(key)}</th><th class="n">count</th></tr>${entries
    .map(([k, v]) => `<tr><td>${e(k)}</td><td class="n">${e(num(v))}</td></tr>`)
    .join('')}</table>`;
}

function errorsSection(d: RunData): string {
  const s = d.run.statistics;
  const failed = d.seeds.filter((x) => x.result && (x.result.status === 'failed' || x.result.status === 'no_qa'));
  const groups = new Map<string, SeedView[]>();
  for (const x of failed) {
    const k = x.result!.error_type ?? x.result!.status;
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  const byReason = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(
      ([k, list]) =>
        `<tr class="error-group"><td><code>${e(k)}</code></td><td class="n">${list.length}</td><td>${list
          .slice(0, 20)
          .map((x) => `<div><code>${e(x.source_id)}</code> ${e(clip(x.text, 80))}: <span class="muted">${e(clip(x.result!.error ?? '', 300))}</span></div>`)
          .join('')}${list.length > 20 ? `<div class="muted">… and ${list.length - 20} more</div>` : ''}</td></tr>`,
    )
    .join('');
  const rejectedByReason: Record<string, number> = {};
  for (const r of d.rejected) {
    const k = `${r.rejection?.stage ?? '?'}: ${r.rejection?.reason ?? '?'}`;
    rejectedByReason[k] = (rejectedByReason[k] ?? 0) + 1;
  }
  return `<section id="errors"><h2>Errors and losses, by reason</h2>
<h3>Failed seeds and seeds without QA</h3>${byReason ? `<table id="error-groups"><tr><th>reason</th><th class="n">seeds</th><th>seeds (error)</th></tr>${byReason}</table>` : '<p class="muted" id="error-groups">none</p>'}
${countsTable('tool-errors', 'Tool error observations, by tool', s?.tools?.errors, 'tool')}
${countsTable('skipped-branches', 'Branches skipped (no valid action), by reason', s?.skipped_branches)}
${countsTable('qa-rejected', 'QA attempts rejected by the validators, by reason', s?.qa_rejected)}
${countsTable('qa-dropped', 'QA written but not kept, by stage and reason', rejectedByReason)}
</section>`;
}

const PX = { col: 30, row: 64, pad: 16, r: 8 };

/** The SVG drawing of a tree: one `g.node` per node (class = outcome, + `selected`), one `line.edge` per edge. */
export function treeSvg(nodes: readonly CompactNode[], selected: ReadonlySet<string>): string {
  const layout = layoutTree(nodes);
  const pos = new Map(layout.nodes.map((n) => [n.node_id, { x: PX.pad + n.x * PX.col, y: PX.pad + n.y * PX.row }]));
  const w = PX.pad * 2 + Math.max(0, layout.width - 1) * PX.col;
  const h = PX.pad * 2 + Math.max(0, layout.height - 1) * PX.row;
  const edges = layout.edges
    .map((ed) => {
      const a = pos.get(ed.from)!;
      const b = pos.get(ed.to)!;
      const sel = selected.has(ed.from) && selected.has(ed.to);
      return `<line class="edge${sel ? ' selected' : ''}" x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}"/>`;
    })
    .join('');
  const drawn = layout.nodes
    .map((n) => {
      const p = pos.get(n.node_id)!;
      const cls = `node ${n.outcome}${selected.has(n.node_id) ? ' selected' : ''}`;
      const title = `${n.node_id} · ${n.tool_name || 'root'} · ${n.outcome}${n.intent ? ` · ${n.intent}` : ''}`;
      return `<g class="${e(cls)}" data-node-id="${e(n.node_id)}"><circle cx="${p.x}" cy="${p.y}" r="${PX.r}"/><title>${e(title)}</title></g>`;
    })
    .join('');
  return `<svg class="tree" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="exploration tree, ${layout.nodes.length} nodes">${edges}${drawn}</svg>`;
}

function seedSection(x: SeedView): string {
  const r = x.result;
  const status = r?.status ?? 'missing';
  const c = r?.counters;
  const facts = r
    ? `${r.qas.length} QA · ${r.trajectories.length} paths · ${x.tree.length} nodes drawn · ${num(c?.llm_calls)} LLM calls · ${num((c?.input_tokens ?? 0) + (c?.output_tokens ?? 0))} tokens`
    : 'no result: the seed never finished';
  const note =
    x.tree_source === 'paths'
      ? '<p class="muted tree-note">Partial tree: only the selected paths (this result file was written before qasynth kept whole trees).</p>'
      : x.tree_source === 'none'
        ? `<p class="muted tree-note">No tree recorded${r?.status === 'failed' ? ' (the seed failed)' : ''}.</p>`
        : '';
  return `<div class="seed" id="seed-${e(x.source_id)}" data-source-id="${e(x.source_id)}" data-status="${e(status)}">
<h3><span class="badge ${e(status)}">${e(status)}</span> <code>${e(x.source_id)}</code> ${e(clip(x.text, 200))}</h3>
<p class="muted">${e(facts)}</p>${r?.error ? `<p class="seed-error">${e(clip(r.error, 500))}</p>` : ''}${note}
${x.tree.length ? `<div class="tree-wrap">${treeSvg(x.tree, x.selected)}</div>` : ''}</div>`;
}

function qaArticle(d: RunData, qa: QaRecord | RejectedQaRecord, rejected: boolean): string {
  const steps = qaSteps(qa, d.trajectories.get(qa.trajectory_id));
  const sources = qaSources(qa, steps);
  const rej = (qa as RejectedQaRecord).rejection;
  const rows = steps
    .map(
      (s, i) =>
        `<tr${s.is_error ? ' class="step-error"' : ''}><td class="n">${i + 1}</td><td><code>${e(s.node_id)}</code></td><td><code>${e(s.tool_name)}</code><pre>${e(
          clip(JSON.stringify(s.parameters), 400),
        )}</pre></td><td>${s.intent ? `<div class="muted">${e(s.intent)}</div>` : ''}<pre>${e(clip(s.observation, REPORT_OBSERVATION_CHARS))}</pre></td></tr>`,
    )
    .join('');
  const v = qa.verification;
  return `<article class="qa${rejected ? ' rejected' : ''}" data-qa-id="${e(qa.qa_id)}" data-source-id="${e(qa.source_id)}">
<div class="q">${e(qa.question)}</div><div class="a">Answer: ${e(qa.answer)}</div>
${rejected ? `<div class="reason">Not kept — ${e(rej?.stage)}: ${e(rej?.reason)}${rej?.duplicate_of ? ` (duplicate of ${e(rej.duplicate_of)})` : ''}</div>` : ''}
<div class="muted"><code>${e(qa.qa_id)}</code> · seed <a href="#seed-${e(qa.source_id)}"><code>${e(qa.source_id)}</code></a> ${e(clip(qa.metadata?.seed_data ?? '', 80))} · depth ${e(qa.metadata?.trajectory_depth)}${
    qa.evidence?.grounding ? ` · grounded (${e(qa.evidence.grounding.method)} at ${e(qa.evidence.grounding.node_id)})` : ''
  }${v ? ` · ${e(v.difficulty)}, baseline ${v.baseline.correct}/${v.baseline.attempts}, solver ${v.solver.correct}/${v.solver.attempts}` : ''}</div>
<details><summary>Trajectory: ${steps.length} step(s), ${sources.length} source(s)</summary>
${rows ? `<table class="steps"><tr><th>#</th><th>node</th><th>tool call</th><th>observation</th></tr>${rows}</table>` : '<p class="muted">no steps recorded</p>'}
${sources.length ? `<ul class="sources">${sources.map((s) => `<li><code>${e(s)}</code></li>`).join('')}</ul>` : ''}
</details></article>`;
}

/** The report page of a run, as one HTML string. */
export function renderReport(d: RunData): string {
  const s = d.run.statistics;
  const config = d.run.manifest?.config ?? s?.config;
  const counts = { succeeded: 0, failed: 0, no_qa: 0, budget_exhausted: 0, missing: 0 } as Record<string, number>;
  for (const x of d.seeds) counts[x.result?.status ?? 'missing'] = (counts[x.result?.status ?? 'missing'] ?? 0) + 1;
  const llm = s?.llm;
  const tokens = `<section id="cost"><h2>Tokens and cost</h2>${
    llm
      ? `<table><tr><th>LLM calls</th><td class="n" id="llm-calls">${num(llm.calls)}</td></tr><tr><th>HTTP requests</th><td class="n">${num(llm.requests)}</td></tr>
<tr><th>input tokens</th><td class="n" id="input-tokens">${num(llm.input_tokens)}</td></tr><tr><th>output tokens</th><td class="n" id="output-tokens">${num(llm.output_tokens)}</td></tr>
<tr><th>estimated cost (USD)</th><td class="n" id="cost-usd">${llm.estimated_cost_usd === null ? 'no prices configured' : `$${num(llm.estimated_cost_usd, 4)}`}</td></tr>
${llm.usage_estimated_calls ? `<tr><th>calls with estimated usage</th><td class="n">${num(llm.usage_estimated_calls)}</td></tr>` : ''}</table>`
      : '<p class="absent">No statistics file yet (the run has not written its outputs).</p>'
  }${s?.tools ? countsTable('tool-calls', 'Tool calls, by tool', s.tools.calls, 'tool') : ''}</section>`;
  const qas = [...d.kept.map((q) => qaArticle(d, q, false)), ...d.rejected.map((q) => qaArticle(d, q, true))].join('\n');
  const body = `<header><h1>qasynth run <code>${e(d.run.run_id)}</code></h1><p>${e(config?.environment_mode ?? '?')} mode · model ${e(config?.model_name ?? '?')}${
    s ? ` · ${e(s.completion)} · ${e(s.started_at)} → ${e(s.finished_at)}${s.wall_time_seconds != null ? ` (${num(s.wall_time_seconds, 1)} s)` : ''}` : ''
  }</p></header><main>
<section id="summary"><h2>Summary</h2><table><tr><th>seeds</th><td class="n" id="seeds-total">${d.seeds.length}</td></tr>${Object.entries(counts)
    .map(([k, v]) => `<tr><th>${e(k.replace('_', ' '))}</th><td class="n" id="seeds-${e(k)}">${v}</td></tr>`)
    .join('')}<tr><th>QA kept</th><td class="n" id="qa-kept">${d.kept.length}</td></tr><tr><th>QA not kept</th><td class="n" id="qa-not-kept">${d.rejected.length}</td></tr></table></section>
${funnelSection(s?.funnel, d.kept.length, d.run.qa_file !== null)}
${tokens}
${errorsSection(d)}
<section id="seeds"><h2>Seeds and their trees</h2><p class="legend"><span><i class="dot" style="background:var(--ok)"></i>ok</span><span><i class="dot" style="background:var(--error)"></i>tool error</span><span><i class="dot" style="background:var(--refused)"></i>refused (repeated action)</span><span><i class="dot" style="background:#fff;border:3px solid var(--sel)"></i>on a selected path</span></p>
${d.seeds.map(seedSection).join('\n')}</section>
<section id="qas"><h2>QA</h2><p><input id="filter" type="search" placeholder="filter QA: words in the question, answer, seed, tools, sources…" aria-label="filter QA"> <span id="qa-count">${d.kept.length + d.rejected.length} QA</span></p>
${qas || '<p class="muted">no QA</p>'}</section></main>`;
  const scriptHash = createHash('sha256').update(SCRIPT).digest('base64');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>qasynth report · ${e(d.run.run_id)}</title><style>${CSS}</style></head>
<body>${body}<script>${SCRIPT}</script></body></html>\n`;
}

/** Writes the report of a run (default `<run dir>/report.html`); returns the file and what it shows. */
export async function writeReport(opts: { run: string; outputDir?: string; out?: string }): Promise<{ file: string; seeds: number; qa: number; bytes: number }> {
  const run = openRun(opts.run, opts.outputDir);
  const data = await loadRunData(run);
  const html = renderReport(data);
  const file = path.resolve(opts.out ?? path.join(run.dir, 'report.html'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, html);
  return { file, seeds: data.seeds.length, qa: data.kept.length + data.rejected.length, bytes: Buffer.byteLength(html) };
}
