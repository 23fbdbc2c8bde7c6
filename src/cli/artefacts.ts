/**
 * The after-the-run commands: `export`, `report`, `show`. They read a run folder only (no Temporal server, no
 * worker). The logic is in src/export/ and src/report/; this file only declares the commands.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { UsageError } from './inputs';

const err = (s: string) => process.stderr.write(`${s}\n`);

/** RunFolderError (what the user pointed at is wrong) → UsageError (exit 2, one `error:` line). */
async function asUsage<T>(f: () => Promise<T>): Promise<T> {
  const { RunFolderError } = await import('../export/run-folder');
  try {
    return await f();
  } catch (e) {
    if (e instanceof RunFolderError) throw new UsageError([e.message]);
    throw e;
  }
}

const FORMATS = ['sft', 'sharegpt', 'parquet'];

function exportFormat(v: string): string {
  if (!FORMATS.includes(v)) throw new InvalidArgumentError(`--format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

const OUTPUT_DIR_HELP = 'where a run id is looked up: <dir>/<run-id>/';

/** Adds `export`, `report` and `show` to the program. */
export function registerArtefactCommands(program: Command): void {
  program
    .command('export')
    .description('write a finished run\'s QA as training data: OpenAI chat SFT, ShareGPT or Parquet (+ dataset_info.json and a dataset card)')
    .argument('<run>', 'run folder (<output-dir>/<run-id>) or run id')
    .requiredOption('--format <format>', 'sft (OpenAI chat fine-tuning JSONL with tool calls), sharegpt (LLaMA-Factory ShareGPT JSONL) or parquet', exportFormat)
    .option('--out <file>', 'output file (default <run folder>/export/<run-id>.sft.jsonl, .sharegpt.jsonl or .parquet)')
    .option('--include-rejected', 'also export QA that grounding, verification or dedup did not keep, labelled with the reason (sft: in <out>.rejected.jsonl)')
    .option('--output-dir <dir>', OUTPUT_DIR_HELP, 'out')
    .option('--json', 'print the result as one JSON line')
    .action(async (run: string, flags: { format: 'sft' | 'sharegpt' | 'parquet'; out?: string; includeRejected?: boolean; outputDir: string; json?: boolean }) => {
      const { exportRun } = await import('../export/export');
      const r = await asUsage(() => exportRun({ run, outputDir: flags.outputDir, format: flags.format, out: flags.out, includeRejected: flags.includeRejected }));
      if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        process.stdout.write(`${r.file}\n`);
        err(
          `exported ${r.records} record(s)${flags.includeRejected ? ` and ${r.negatives} negative(s)${r.negatives_file ? ` (${r.negatives_file})` : ''}` : ''} as ${r.format}; ` +
            `fields documented in ${r.dataset_info_file} and ${r.card_file}`,
        );
        if (r.excerpt_only || r.no_steps) err(`note: ${r.excerpt_only} record(s) have only observation excerpts and ${r.no_steps} no tool steps (result files from an older qasynth)`);
      }
    });

  program
    .command('report')
    .description('write one self-contained HTML page for a run: trees, yield funnel, tokens and cost, errors, every QA (searchable)')
    .argument('<run>', 'run folder (<output-dir>/<run-id>) or run id')
    .option('--out <file>', 'output file (default <run folder>/report.html)')
    .option('--output-dir <dir>', OUTPUT_DIR_HELP, 'out')
    .action(async (run: string, flags: { out?: string; outputDir: string }) => {
      const { writeReport } = await import('../report/report');
      const r = await asUsage(() => writeReport({ run, outputDir: flags.outputDir, out: flags.out }));
      process.stdout.write(`${r.file}\n`);
      err(`report of ${r.seeds} seed(s) and ${r.qa} QA (${(r.bytes / 1024).toFixed(0)} KiB); open it in a browser, no server needed`);
    });

  program
    .command('show')
    .description('print a run, one QA (with its trajectory and sources) or one seed (its QA and tree) in the terminal')
    .argument('<run>', 'run folder (<output-dir>/<run-id>) or run id')
    .argument('[id]', 'a qa_id or a source_id of the run')
    .option('--output-dir <dir>', OUTPUT_DIR_HELP, 'out')
    .action(async (run: string, id: string | undefined, flags: { outputDir: string }) => {
      const { showText } = await import('../report/show');
      process.stdout.write(await asUsage(() => showText({ run, outputDir: flags.outputDir, id })));
    });
}


