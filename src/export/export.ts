/**
 * `qasynth export`: a finished run's QA as training files (formats: src/export/records.ts), each with a
 * `dataset_info.json` and a dataset card (`README.md`) describing every field, written next to it.
 *
 * - sft       `<name>.jsonl`: one SftRecord per kept QA, in the QA file's order; with --include-rejected the
 *             negatives go to `<name>.rejected.jsonl` (same shape, plus `qa_id` and `rejection`), so the main file
 *             keeps only the keys OpenAI's format accepts.
 * - sharegpt  `<name>.jsonl`: one ShareGptRecord per QA; negatives in the same file with `kto_tag: false`.
 * - parquet   `<name>.parquet`: one row per QA (PARQUET_COLUMNS), positives then negatives (`label`), written with
 *             hyparquet-writer in row groups of PARQUET_ROW_GROUP rows (memory: one row group).
 *
 * Records are streamed from the run folder (one seed's result in memory at a time).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { QaRecord, RejectedQaRecord, ToolSchema } from '../shared/types';
import { MODE_TOOLS } from '../shared/constants';
import { AGENT_SYSTEM_PROMPT } from '../domain/prompts';
import { AtomicLines } from '../shared/atomic-lines';
import { keptQas, openRun, rejectedQas, RunFolderError, TrajectoryLookup, type RunFolder } from './run-folder';
import { agentSteps, openAiTools, sftRecord, shareGptRecord, validateSftRecord, type AgentStep, type StepSource } from './records';

export const EXPORT_FORMATS = ['sft', 'sharegpt', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Rows per Parquet row group (and per write: the memory bound of a Parquet export). */
export const PARQUET_ROW_GROUP = 1000;

/** A documented field of an export (for dataset_info.json and the card). */
export interface FieldDoc {
  name: string;
  type: string;
  description: string;
}

const MESSAGES_DOC =
  'the conversation: system (the agent prompt), user (the question), then per step an assistant turn (content: the step\'s intent, or null) with one tool_call {id: "call_<node_id>", type: "function", function: {name, arguments: JSON text}} and a tool turn {tool_call_id, content: the observation}, and last the assistant answer';

/** The fields of each format, in record order. */
export const FIELD_DOCS: Record<ExportFormat, FieldDoc[]> = {
  sft: [
    { name: 'messages', type: 'list of messages', description: MESSAGES_DOC },
    { name: 'tools', type: 'list of {type: "function", function: {name, description, parameters}}', description: 'the tools the run offered (JSON Schemas as qasynth offers them to the model)' },
    { name: 'parallel_tool_calls', type: 'boolean (false)', description: 'each step makes one tool call' },
    { name: 'qa_id', type: 'string', description: 'negatives file only: the QA record the negative came from' },
    { name: 'rejection', type: '{stage, reason, duplicate_of?}', description: 'negatives file only: the stage that dropped the record (grounding, verification, dedup), why, and the qa_id it duplicates' },
  ],
  sharegpt: [
    { name: 'id', type: 'string', description: 'the qa_id of the QA record' },
    {
      name: 'conversations',
      type: 'list of {from, value}',
      description:
        'from "system" (the agent prompt), "human" (the question), per step "function_call" (value: JSON text {"name", "arguments": object}) then "observation" (the tool output), and last "gpt" (the answer)',
    },
    { name: 'tools', type: 'string (JSON)', description: 'JSON text of the tool list [{name, description, parameters}]' },
    { name: 'kto_tag', type: 'boolean', description: 'with --include-rejected only: true for kept records, false for negatives' },
    { name: 'rejection', type: '{stage, reason, duplicate_of?}', description: 'negatives only: the stage that dropped the record, why, and the qa_id it duplicates' },
  ],
  parquet: [], // PARQUET_COLUMNS
};

/** The Parquet columns: name, Parquet type, nullable, description. */
export const PARQUET_COLUMNS: (FieldDoc & { parquet: 'STRING' | 'INT32' | 'BOOLEAN'; nullable: boolean })[] = [
  { name: 'qa_id', parquet: 'STRING', nullable: false, type: 'string', description: 'id of the QA record (`<trajectory_id>_qa_<n>`)' },
  { name: 'label', parquet: 'STRING', nullable: false, type: 'string', description: '"kept" (in the run\'s QA file) or "rejected" (a negative)' },
  { name: 'question', parquet: 'STRING', nullable: false, type: 'string', description: 'the question' },
  { name: 'answer', parquet: 'STRING', nullable: false, type: 'string', description: 'the reference answer' },
  { name: 'messages', parquet: 'STRING', nullable: false, type: 'string (JSON)', description: `JSON text of the sft export's messages: ${MESSAGES_DOC}` },
  { name: 'tools', parquet: 'STRING', nullable: false, type: 'string (JSON)', description: "JSON text of the sft export's tools" },
  { name: 'source_id', parquet: 'STRING', nullable: false, type: 'string', description: 'the seed (`src_<hash>`)' },
  { name: 'seed_data', parquet: 'STRING', nullable: false, type: 'string', description: 'the seed text' },
  { name: 'trajectory_id', parquet: 'STRING', nullable: false, type: 'string', description: 'the path the QA was written from' },
  { name: 'tool_calls', parquet: 'INT32', nullable: false, type: 'int32', description: 'tool calls in the conversation' },
  { name: 'trajectory_depth', parquet: 'INT32', nullable: false, type: 'int32', description: 'depth of the path in the exploration tree' },
  { name: 'step_source', parquet: 'STRING', nullable: false, type: 'string', description: 'where the tool outputs came from: "trajectory" (full observations), "evidence" (excerpts of ≤ 500 characters), "none"' },
  { name: 'sources', parquet: 'STRING', nullable: false, type: 'string (JSON)', description: 'JSON array of the URLs / documents the path read (evidence.sources; [] when none)' },
  { name: 'environment_mode', parquet: 'STRING', nullable: false, type: 'string', description: 'web, math, python or rag' },
  { name: 'synthesis_date', parquet: 'STRING', nullable: false, type: 'string (ISO 8601)', description: 'when the QA was written' },
  { name: 'grounding_method', parquet: 'STRING', nullable: true, type: 'string or null', description: 'how the answer was found in the path (exact, normalized, tool_output); null when not checked' },
  { name: 'difficulty', parquet: 'STRING', nullable: true, type: 'string or null', description: 'verification difficulty label (trivial … unsolved); null without verification' },
  { name: 'rejection_stage', parquet: 'STRING', nullable: true, type: 'string or null', description: 'negatives: the stage that dropped it (grounding, verification, dedup)' },
  { name: 'rejection_reason', parquet: 'STRING', nullable: true, type: 'string or null', description: 'negatives: why' },
  { name: 'duplicate_of', parquet: 'STRING', nullable: true, type: 'string or null', description: 'negatives dropped as duplicates: the qa_id they duplicate' },
];
FIELD_DOCS.parquet = PARQUET_COLUMNS.map(({ name, type, description }) => ({ name, type, description }));

/** A Parquet row (the values of PARQUET_COLUMNS). */
export type ParquetRow = Record<string, string | number | null>;

export interface ExportOptions {
  /** Run folder or run id (see resolveRunDir). */
  run: string;
  /** Where run ids are looked up (default `out`). */
  outputDir?: string;
  format: ExportFormat;
  /** Output file; default `<run dir>/export/<run_id>.sft.jsonl`, `<run_id>.sharegpt.jsonl` or `<run_id>.parquet`. */
  out?: string;
  /** Also export the QA written but not kept (grounding, verification, dedup), labelled with their reason. */
  includeRejected?: boolean;
}

export interface ExportResult {
  file: string;
  format: ExportFormat;
  records: number;
  negatives: number;
  /** sft with --include-rejected: the negatives' file. */
  negatives_file: string | null;
  dataset_info_file: string;
  card_file: string;
  /** Records whose observations are only the evidence excerpts, or missing (old result files). */
  excerpt_only: number;
  no_steps: number;
}

/** The tools the run offered: config.available_tools, else the mode's; names the registry no longer has are left out. */
export async function runToolSchemas(run: RunFolder): Promise<ToolSchema[]> {
  const { toolNames, toolSchemas } = await import('../tools/registry');
  const config = run.manifest?.config ?? run.statistics?.config;
  const names = config ? (config.available_tools?.length ? config.available_tools : [...(MODE_TOOLS[config.environment_mode] ?? [])]) : [];
  const known = new Set(toolNames());
  return toolSchemas(names.filter((n) => known.has(n)));
}

interface Item {
  qa: QaRecord;
  rejection: RejectedQaRecord['rejection'] | null;
  steps: AgentStep[];
  source: StepSource;
}

async function* items(run: RunFolder, includeRejected: boolean): AsyncGenerator<Item> {
  const lookup = new TrajectoryLookup(run);
  const one = async (qa: QaRecord, rejection: Item['rejection']): Promise<Item> => {
    const { steps, source } = agentSteps(qa, await lookup.get(qa.source_id, qa.trajectory_id));
    return { qa, rejection, steps, source };
  };
  for await (const qa of keptQas(run)) yield one(qa, null);
  if (includeRejected) {
    for await (const r of rejectedQas(run)) {
      const { rejection, ...qa } = r;
      yield one(qa as QaRecord, rejection ?? { stage: 'verification', reason: 'unknown' });
    }
  }
}


/** The Parquet row of a record (sft messages and tools as JSON text). */
export function parquetRow(item: Item, tools: ReturnType<typeof openAiTools>): ParquetRow {
  const { qa, rejection } = item;
  const sft = sftRecord(qa, item.steps, tools);
  return {
    qa_id: qa.qa_id,
    label: rejection ? 'rejected' : 'kept',
    question: qa.question,
    answer: qa.answer,
    messages: JSON.stringify(sft.messages),
    tools: JSON.stringify(sft.tools),
    source_id: qa.source_id,
    seed_data: qa.metadata?.seed_data ?? '',
    trajectory_id: qa.trajectory_id,
    tool_calls: item.steps.length,
    trajectory_depth: qa.metadata?.trajectory_depth ?? item.steps.length,
    step_source: item.source,
    sources: JSON.stringify(qa.evidence?.sources ?? []),
    environment_mode: qa.metadata?.environment_mode ?? '',
    synthesis_date: qa.metadata?.synthesis_date ?? '',
    grounding_method: qa.evidence?.grounding?.method ?? null,
    difficulty: qa.verification?.difficulty ?? null,
    rejection_stage: rejection?.stage ?? null,
    rejection_reason: rejection?.reason ?? null,
    duplicate_of: rejection?.duplicate_of ?? null,
  };
}

/** Writes Parquet rows with hyparquet-writer, one row group per `write` call. */
/** An atomic JSONL output file, its folder created. */
function newLines(file: string): AtomicLines {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return new AtomicLines(file);
}

async function parquetWriter(file: string): Promise<{ write(rows: ParquetRow[]): Promise<void>; finish(): void }> {
  const hw = await import('hyparquet-writer');
  // fileWriter is exported by the package's Node entry (src/node.js), which its `types` do not describe.
  const { fileWriter } = hw as unknown as { fileWriter(filename: string): import('hyparquet-writer').Writer };
  const schema = [
    { name: 'root', num_children: PARQUET_COLUMNS.length },
    ...PARQUET_COLUMNS.map((c) => ({
      name: c.name,
      repetition_type: c.nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const),
      ...(c.parquet === 'STRING' ? { type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const } : { type: c.parquet }),
    })),
  ];
  const writer = new hw.ParquetWriter({ writer: fileWriter(file), schema, createdBy: 'qasynth export', kvMetadata: [{ key: 'qasynth.format', value: 'qasynth export parquet v1' }] });
  return {
    async write(rows) {
      if (!rows.length) return;
      await writer.write({
        columnData: PARQUET_COLUMNS.map((c) => ({ name: c.name, data: rows.map((r) => r[c.name] ?? null) })),
        rowGroupSize: rows.length,
      });
    },
    finish: () => writer.finish(),
  };
}

/** Exports a run (see the module comment). Throws RunFolderError for a folder that is not a finished run's. */
export async function exportRun(opts: ExportOptions): Promise<ExportResult> {
  if (!EXPORT_FORMATS.includes(opts.format)) {
    throw new RunFolderError(`--format: expected one of ${EXPORT_FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`);
  }
  const run = openRun(opts.run, opts.outputDir);
  if (!run.qa_file && !fs.existsSync(path.join(run.dir, 'seeds'))) {
    throw new RunFolderError(`${run.dir}: no QA file and no seed results; has the run written anything yet?`);
  }
  const defaultName = opts.format === 'parquet' ? `${run.run_id}.parquet` : `${run.run_id}.${opts.format}.jsonl`;
  const file = path.resolve(opts.out ?? path.join(run.dir, 'export', defaultName));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const schemas = await runToolSchemas(run);
  const tools = openAiTools(schemas);
  const includeRejected = opts.includeRejected === true;
  let records = 0;
  let negatives = 0;
  let excerptOnly = 0;
  let noSteps = 0;
  let negativesFile: string | null = null;
  const count = (it: Item) => {
    if (it.rejection) negatives += 1;
    else records += 1;
    if (it.source === 'evidence') excerptOnly += 1;
    if (it.source === 'none') noSteps += 1;
  };

  if (opts.format === 'parquet') {
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      const w = await parquetWriter(tmp);
      let rows: ParquetRow[] = [];
      for await (const it of items(run, includeRejected)) {
        count(it);
        rows.push(parquetRow(it, tools));
        if (rows.length >= PARQUET_ROW_GROUP) {
          await w.write(rows);
          rows = [];
        }
      }
      await w.write(rows);
      w.finish();
      fs.renameSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  } else {
    const main = newLines(file);
    const neg = opts.format === 'sft' && includeRejected ? newLines(file.replace(/(\.jsonl)?$/, '.rejected.jsonl')) : null;
    try {
      for await (const it of items(run, includeRejected)) {
        count(it);
        if (opts.format === 'sft') {
          const rec = sftRecord(it.qa, it.steps, tools);
          const problems = validateSftRecord(rec);
          if (problems.length) throw new Error(`qa ${it.qa.qa_id}: the SFT record is not valid (${problems.join('; ')}); this is a qasynth bug`);
          if (it.rejection) neg!.write({ ...rec, qa_id: it.qa.qa_id, rejection: it.rejection });
          else main.write(rec);
        } else {
          const rec = shareGptRecord(it.qa, it.steps, schemas);
          main.write(includeRejected ? { ...rec, kto_tag: !it.rejection, ...(it.rejection ? { rejection: it.rejection } : {}) } : rec);
        }
      }
      main.commit();
      neg?.commit();
      negativesFile = neg ? neg.file : null;
    } catch (e) {
      main.discard();
      neg?.discard();
      throw e;
    }
  }

  const base = file.replace(/\.(jsonl|parquet)$/, '');
  const info = datasetInfo(run, opts.format, path.basename(file), negativesFile && path.basename(negativesFile), { records, negatives, excerptOnly, noSteps }, schemas);
  const infoFile = `${base}.dataset_info.json`;
  const cardFile = `${base}.README.md`;
  fs.writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  fs.writeFileSync(cardFile, datasetCard(info));
  return { file, format: opts.format, records, negatives, negatives_file: negativesFile, dataset_info_file: infoFile, card_file: cardFile, excerpt_only: excerptOnly, no_steps: noSteps };
}

/** dataset_info.json: what the file holds and every field; for sharegpt also LLaMA-Factory's dataset entry. */
export interface DatasetInfo {
  name: string;
  format: ExportFormat;
  file: string;
  negatives_file: string | null;
  run_id: string;
  environment_mode: string | null;
  model_name: string | null;
  exported_at: string;
  records: number;
  negatives: number;
  /** Records whose tool outputs are excerpts (evidence only) or absent: result files from older qasynth versions. */
  records_with_excerpts_only: number;
  records_without_steps: number;
  system_prompt: string;
  tools: string[];
  fields: FieldDoc[];
  /** sharegpt: the entry to put in LLaMA-Factory's data/dataset_info.json. */
  llamafactory?: Record<string, unknown>;
}

function datasetInfo(
  run: RunFolder,
  format: ExportFormat,
  file: string,
  negativesFile: string | null,
  n: { records: number; negatives: number; excerptOnly: number; noSteps: number },
  schemas: ToolSchema[],
): DatasetInfo {
  const config = run.manifest?.config ?? run.statistics?.config;
  const name = `qasynth_${run.run_id}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  return {
    name,
    format,
    file,
    negatives_file: negativesFile,
    run_id: run.run_id,
    environment_mode: config?.environment_mode ?? null,
    model_name: config?.model_name ?? null,
    exported_at: new Date().toISOString(),
    records: n.records,
    negatives: n.negatives,
    records_with_excerpts_only: n.excerptOnly,
    records_without_steps: n.noSteps,
    system_prompt: AGENT_SYSTEM_PROMPT,
    tools: schemas.map((s) => s.name),
    fields: FIELD_DOCS[format],
    ...(format === 'sharegpt'
      ? {
          llamafactory: {
            [name]: {
              file_name: file,
              formatting: 'sharegpt',
              columns: { messages: 'conversations', tools: 'tools', ...(n.negatives ? { kto_tag: 'kto_tag' } : {}) },
              tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', observation_tag: 'observation', function_tag: 'function_call', system_tag: 'system' },
            },
          },
        }
      : {}),
  };
}

/** The dataset card (Markdown): what the data is, how it was made, and a table of every field. */
export function datasetCard(info: DatasetInfo): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `# ${info.name}`,
    '',
    `Multi-hop question-answer conversations of a tool-using agent, synthesized by qasynth (run \`${info.run_id}\`, ` +
      `${info.environment_mode ?? 'unknown'} mode, model \`${info.model_name ?? 'unknown'}\`), exported as **${info.format}** on ${info.exported_at}.`,
    '',
    `- File: \`${info.file}\` — ${info.records} kept record(s)${info.negatives ? `, ${info.negatives} negative(s)${info.negatives_file ? ` in \`${info.negatives_file}\`` : ''}` : ''}.`,
    `- Tools: ${info.tools.map((t) => `\`${t}\``).join(', ') || '(none)'}.`,
    info.records_with_excerpts_only || info.records_without_steps
      ? `- ${info.records_with_excerpts_only} record(s) carry only observation excerpts and ${info.records_without_steps} no tool steps (result files from older qasynth versions).`
      : '- Every record replays its full path (observations as stored in the trajectory).',
    '',
    'Each record is the path the QA was written from, replayed as an agent: the system prompt, the question, one tool',
    'call per exploration step answered by the tool output the explorer saw, and the reference answer.',
    'Negatives (if any) are QA that a later stage (grounding, verification, dedup) did not keep, with the reason.',
    '',
    '## System prompt',
    '',
    `> ${info.system_prompt}`,
    '',
    '## Fields',
    '',
    '| field | type | description |',
    '|---|---|---|',
    ...info.fields.map((f) => `| \`${f.name}\` | ${cell(f.type)} | ${cell(f.description)} |`),
    '',
  ].join('\n');
}
