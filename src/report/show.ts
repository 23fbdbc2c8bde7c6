/**
 * `qasynth show`: a run, one QA or one seed as plain text for the terminal (no colour codes, so it pipes cleanly).
 * - `show <run>`: the run's counts and one line per seed;
 * - `show <run> <qa_id>`: the QA, its trajectory (tool calls with arguments, observation excerpts) and sources;
 * - `show <run> <source_id>`: the seed, its QA and its tree as indented text (`*` marks nodes on selected paths).
 */
import type { CompactNode, QaRecord, RejectedQaRecord } from '../shared/types';
import { openRun, RunFolderError } from '../export/run-folder';
import { loadRunData, qaSources, qaSteps, sourceIdOf, type RunData, type SeedView } from './run-data';

/** Characters of each observation shown by `show <run> <qa_id>`. */
export const SHOW_OBSERVATION_CHARS = 300;

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

/** Terminal-safe text: control characters (escape sequences in model or tool output) shown as `\xNN`. */
export function terminalSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function showRun(d: RunData): string {
  const s = d.run.statistics;
  const lines = [
    `run ${d.run.run_id} (${d.run.dir})`,
    `${d.seeds.length} seeds, ${d.kept.length} QA kept, ${d.rejected.length} not kept` +
      (s ? `; ${s.llm.calls} LLM calls, ${s.llm.input_tokens + s.llm.output_tokens} tokens${s.llm.estimated_cost_usd != null ? `, $${s.llm.estimated_cost_usd.toFixed(4)}` : ''}` : ''),
    '',
  ];
  for (const x of d.seeds) {
    const r = x.result;
    lines.push(`${x.source_id}  ${(r?.status ?? 'missing').padEnd(16)} ${String(r?.qas.length ?? 0).padStart(3)} QA ${String(x.tree.length).padStart(4)} nodes  ${clip(x.text, 60)}`);
  }
  lines.push('', `show one: qasynth show ${d.run.run_id} <qa_id|source_id>`);
  return lines.join('\n');
}

function showQa(d: RunData, qa: QaRecord | RejectedQaRecord): string {
  const steps = qaSteps(qa, d.trajectories.get(qa.trajectory_id));
  const rej = (qa as RejectedQaRecord).rejection;
  const lines = [
    `QA ${qa.qa_id}${rej ? `  (NOT KEPT — ${rej.stage}: ${rej.reason}${rej.duplicate_of ? `, duplicate of ${rej.duplicate_of}` : ''})` : ''}`,
    `seed      ${qa.source_id}  ${clip(qa.metadata?.seed_data ?? '', 100)}`,
    `question  ${qa.question}`,
    `answer    ${qa.answer}`,
    `path      ${qa.trajectory_id}, ${steps.length} step(s)${qa.evidence?.grounding ? `; grounded: ${qa.evidence.grounding.method} at ${qa.evidence.grounding.node_id}` : ''}`,
  ];
  if (qa.verification) {
    const v = qa.verification;
    lines.push(`verified  ${v.difficulty}: baseline ${v.baseline.correct}/${v.baseline.attempts}, solver ${v.solver.correct}/${v.solver.attempts}${v.reason ? ` (${v.reason})` : ''}`);
  }
  lines.push('', 'trajectory:');
  steps.forEach((st, i) => {
    lines.push(`  ${i + 1}. ${st.node_id}  ${st.tool_name} ${clip(JSON.stringify(st.parameters), 200)}${st.is_error ? '  [error]' : ''}`);
    if (st.intent) lines.push(`     intent: ${clip(st.intent, 200)}`);
    lines.push(`     → ${clip(st.observation, SHOW_OBSERVATION_CHARS)}`);
  });
  if (!steps.length) lines.push('  (no steps recorded)');
  const sources = qaSources(qa, steps);
  lines.push('', `sources: ${sources.length ? '' : '(none)'}`, ...sources.map((s) => `  ${s}`));
  return lines.join('\n');
}

/** A tree as indented text, depth first; `*` marks nodes on selected paths. */
export function treeText(nodes: readonly CompactNode[], selected: ReadonlySet<string>): string[] {
  const ids = new Set(nodes.map((n) => n.node_id));
  const kids = new Map<string | null, CompactNode[]>();
  for (const n of nodes) {
    const p = n.parent_id !== null && ids.has(n.parent_id) ? n.parent_id : null;
    kids.set(p, [...(kids.get(p) ?? []), n]);
  }
  const out: string[] = [];
  const stack: { n: CompactNode; level: number }[] = (kids.get(null) ?? []).map((n) => ({ n, level: 0 })).reverse();
  while (stack.length) {
    const { n, level } = stack.pop()!;
    const mark = selected.has(n.node_id) ? '*' : ' ';
    out.push(`${mark} ${'  '.repeat(level)}${n.node_id} ${n.tool_name || 'root'} [${n.outcome}]${n.intent ? ` ${clip(n.intent, 80)}` : ''}`);
    for (const k of [...(kids.get(n.node_id) ?? [])].reverse()) stack.push({ n: k, level: level + 1 });
  }
  return out;
}

function showSeed(d: RunData, x: SeedView): string {
  const r = x.result;
  const lines = [`seed ${x.source_id} (#${x.index + 1})  ${r?.status ?? 'missing (no result)'}`, `text  ${clip(x.text, 300)}`];
  if (r?.error) lines.push(`error ${r.error_type ? `${r.error_type}: ` : ''}${clip(r.error, 300)}`);
  const qas = [...d.kept.filter((q) => q.source_id === x.source_id), ...d.rejected.filter((q) => q.source_id === x.source_id)];
  lines.push('', `QA (${qas.length}):`);
  for (const q of qas) {
    const rej = (q as RejectedQaRecord).rejection;
    lines.push(`  ${q.qa_id}${rej ? ` [not kept: ${rej.stage}: ${rej.reason}]` : ''}`, `    Q: ${clip(q.question, 200)}`, `    A: ${clip(q.answer, 100)}`);
  }
  lines.push('', `tree (${x.tree.length} nodes${x.tree_source === 'paths' ? ', selected paths only: an older result file' : ''}; * = on a selected path):`);
  if (x.tree.length) lines.push(...treeText(x.tree, x.selected).map((l) => `  ${l}`));
  else lines.push('  (no tree recorded)');
  return lines.join('\n');
}

/** The text `qasynth show` prints. Throws RunFolderError for an unknown run or id. */
export async function showText(opts: { run: string; outputDir?: string; id?: string }): Promise<string> {
  const run = openRun(opts.run, opts.outputDir);
  // A given id needs one seed: read only its result (a qa_id names its seed: `<source_id>_traj_<n>_qa_<rank>`).
  const d = await loadRunData(run, opts.id === undefined ? undefined : sourceIdOf(opts.id));
  let text: string;
  if (!opts.id) text = showRun(d);
  else {
    const qa = d.kept.find((q) => q.qa_id === opts.id) ?? d.rejected.find((q) => q.qa_id === opts.id);
    const seed = d.seeds.find((x) => x.source_id === opts.id);
    if (qa) text = showQa(d, qa);
    else if (seed) text = showSeed(d, seed);
    else {
      throw new RunFolderError(
        `${JSON.stringify(opts.id)}: neither a qa_id nor a source_id of run ${run.run_id}; \`qasynth show ${opts.run}\` lists its seeds, the QA file its qa_ids`,
      );
    }
  }
  return `${terminalSafe(text)}\n`;
}
