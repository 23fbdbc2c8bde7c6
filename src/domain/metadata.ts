/**
 * What the Temporal Web UI shows about a run (Temporal "user metadata"): the one-line summaries of workflows and
 * activities (`staticSummary` / `summary`), and the Markdown of a workflow's current details (the
 * `__temporal_workflow_metadata` query, set with `setCurrentDetails`). Pure text functions, used by workflow code.
 *
 * Rules: one line for a summary, short (the UI cuts long ones), no secrets and no observations — only what the
 * workflow already knows and may put in its history: seed text, tool names and a preview of the arguments the
 * model chose. `environment_kwargs` (which may hold API keys) are never shown.
 */
import type { EnvironmentMode } from '../shared/types';
import { truncate } from './format';

/** Characters of seed text in a seed workflow's summary (the Web UI's list shows about one line of it). */
export const SEED_TEXT_CHARS = 80;
/** Characters of a tool's argument preview in an activity summary and in current details. */
export const ARGS_PREVIEW_CHARS = 60;

/** Whitespace (newlines included) collapsed to single spaces: a summary is one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `seed 12/500 · <seed text, ≤ 80 chars>` — a seed workflow's summary. `index` is 0-based, shown 1-based. */
export function seedWorkflowSummary(index: number, total: number, text: string): string {
  const of = total > 0 ? `${index + 1}/${total}` : `${index + 1}`;
  return `seed ${of} · ${truncate(oneLine(text), SEED_TEXT_CHARS)}`;
}

/** A seed workflow's static details (Markdown): the whole seed (≤ 1,000 chars), its id and the run. */
export function seedWorkflowDetails(runId: string, sourceId: string, text: string): string {
  return `**seed** \`${sourceId}\` of run \`${runId}\`\n\n${truncate(text, 1000)}`;
}

/** `qasynth <run> · <mode> · <n> seeds · max_workers <w>` — a batch workflow's summary. */
export function batchSummary(runId: string, mode: EnvironmentMode | string, seeds: number | null, maxWorkers: number): string {
  return `qasynth ${runId} · ${mode} · ${seeds === null ? '? seeds' : `${seeds} seed${seeds === 1 ? '' : 's'}`} · max_workers ${maxWorkers}`;
}

/**
 * A short, single-line preview of a tool call's arguments (parameters as src/tools/*.ts define them): the
 * queries of `web_search` / `local_search` quoted, the URLs of `web_visit`, the expressions of `calculator`
 * (`; `-separated), the first non-empty line of `python_interpreter` code; for any other tool, `key=value` pairs.
 * At most ARGS_PREVIEW_CHARS characters (then `…`).
 */
export function argsPreview(toolName: string, parameters: Record<string, unknown>): string {
  const list = (v: unknown): string[] =>
    Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : v === undefined ? [] : [typeof v === 'string' ? v : JSON.stringify(v)];
  const first = (...keys: string[]) => keys.map((k) => list(parameters[k])).find((l) => l.length) ?? [];
  let text: string;
  switch (toolName) {
    case 'web_search':
    case 'local_search':
      text = first('queries', 'query')
        .map((q) => `"${oneLine(q)}"`)
        .join(', ');
      break;
    case 'web_visit':
      text = first('urls', 'url').join(' ');
      break;
    case 'calculator':
      text = first('expressions', 'expression').join('; ');
      break;
    case 'python_interpreter':
      text = first('code')[0]?.split('\n').find((l) => l.trim()) ?? '';
      break;
    default:
      text = '';
  }
  if (!text) {
    text = Object.entries(parameters)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
  }
  return truncate(oneLine(text), ARGS_PREVIEW_CHARS);
}

/** `web_search "…"`, `calculator 2+3`: a tool call's activity summary. */
export function toolSummary(toolName: string, parameters: Record<string, unknown>): string {
  const args = argsPreview(toolName, parameters);
  return args ? `${toolName} ${args}` : toolName;
}

/** `choose action · depth 3 · branch 1` (`· attempt 2` on a re-sample): an action choice's activity summary. */
export function chooseActionSummary(depth: number, branch: number, attempt: number): string {
  return `choose action · depth ${depth} · branch ${branch}${attempt > 0 ? ` · attempt ${attempt + 1}` : ''}`;
}

/** `synthesize QA · path 2/3` (`· attempt 2` on a retry): a QA synthesis activity's summary. Ranks 0-based. */
export function qaSummary(rank: number, paths: number, attempt: number): string {
  return `synthesize QA · path ${rank + 1}/${paths}${attempt > 0 ? ` · attempt ${attempt + 1}` : ''}`;
}

/** The phases of a seed, as its current details name them. */
export type SeedPhase = 'checking' | 'exploring' | 'writing QA' | 'done' | 'failed' | 'no QA' | 'stopped, budget spent';

/** What a seed's current details say (see {@link seedDetails}). */
export interface SeedDetailsState {
  phase: SeedPhase;
  /** `seed 12/500 · text` (the workflow's summary, repeated: current details are what a user reads first). */
  title: string;
  /** Nodes created so far (root excluded) and the tree's expected size without failures (tree.ts expectedTreeSize). */
  nodes: number;
  expected_nodes: number;
  /** Depth of the newest node, and the tree's max depth. */
  depth: number;
  max_depth: number;
  /** The newest node's tool call, or null (none yet). */
  last_tool: { tool_name: string; parameters: Record<string, unknown> } | null;
  /** QA written so far, and the paths selected for QA (0 while exploring). */
  qa: number;
  paths: number;
  /** The path whose QA is being written (1-based), while writing QA. */
  path?: number;
  /** The outcome line once done (`3 QA from 3 paths`, or the error). */
  outcome?: string;
}

/**
 * A seed's current details (Markdown), e.g.
 * `**exploring** · node 7 of 10 · depth 2/3 · last calculator 2+3 · 0 QA`, the seed's title on a second line.
 */
export function seedDetails(s: SeedDetailsState): string {
  const parts: string[] = [`**${s.phase}**`];
  if (s.phase === 'exploring' || s.phase === 'writing QA') {
    parts.push(`node ${s.nodes} of ${Number.isFinite(s.expected_nodes) ? s.expected_nodes : '?'}`);
    parts.push(`depth ${s.depth}/${s.max_depth}`);
    if (s.last_tool) parts.push(`last ${toolSummary(s.last_tool.tool_name, s.last_tool.parameters)}`);
  }
  if (s.phase === 'writing QA' && s.path) parts.push(`path ${s.path}/${s.paths}`);
  if (s.phase !== 'checking') parts.push(`${s.qa} QA`);
  const head = parts.join(' · ');
  return `${head}${s.outcome ? `: ${s.outcome}` : ''}\n\n${s.title}`;
}
