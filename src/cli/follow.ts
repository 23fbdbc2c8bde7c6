/**
 * Following a run on the terminal (`qasynth run`, `qasynth watch`): the live snapshots of src/client/progress.ts
 * drawn by a ProgressView, failed seeds and the circuit breaker's pause said once above the line (the pause also
 * without a view).
 */
import type { Client } from '@temporalio/client';
import { watchProgress, type LiveProgress } from '../client/progress';
import type { ProgressView } from './progress';

/** A failed or no-QA seed as a note above the progress line: `✗ failed src_ab12 "Who wrote…": LlmAuth: …`. */
export function failedSeedNote(f: LiveProgress['failed_seeds'][number]): string {
  const text = f.text ? ` ${JSON.stringify(f.text.length > 60 ? `${f.text.slice(0, 59)}…` : f.text)}` : '';
  const why = [f.error_type, f.error].filter(Boolean).join(': ');
  return `${f.status === 'no_qa' ? '∅ no QA' : '✗ failed'} ${f.source_id}${text}${why ? ` — ${why}` : ''}`;
}

/**
 * Draws every snapshot of the run until it ends and returns the final one (the caller draws it with
 * `view.finish(final)` and prints the summary from it); null when stopped by `signal`. New failed seeds and a new
 * pause reason are printed once, above the line.
 */
export async function followRun(
  client: Client,
  runId: string,
  view: ProgressView | null,
  opts: { signal?: AbortSignal; say?: (line: string) => void } = {},
): Promise<LiveProgress | null> {
  const say = (line: string) => (view ? view.note(line) : (opts.say ?? ((l: string) => process.stderr.write(`${l}\n`)))(line));
  const named = new Set<string>();
  let shownPause: string | null = null;
  for await (const p of watchProgress(client, runId, { signal: opts.signal })) {
    if (p.final) return p;
    for (const f of view ? p.failed_seeds : []) {
      const key = `${f.source_id}:${f.status}`;
      if (named.has(key)) continue;
      named.add(key);
      say(failedSeedNote(f));
    }
    if (p.pause_reason && p.pause_reason !== shownPause) {
      // Said in full even without a progress line (--no-progress): the run waits for the user.
      say(`run ${runId} ${p.pause_reason}`);
      say('(waiting; press Ctrl-C to stop this command — the run stays paused and durable)');
    }
    shownPause = p.pause_reason;
    view?.update(p);
  }
  return null;
}
