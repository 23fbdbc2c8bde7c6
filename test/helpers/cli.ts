/**
 * Runs the compiled `qasynth` CLI (bin/qasynth.js → dist/) as a user does, from the project root, without an
 * LLM endpoint in its environment unless the test gives one.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'qasynth.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    // 'close', not 'exit': the output pipes may still hold data when the process has exited.
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
