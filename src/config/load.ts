/**
 * Reading config and seed files (the only file I/O in src/config). Validation lives in schema.ts / domain/ids.ts;
 * these functions return raw values and throw ConfigError for unreadable or malformed files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import type { SynthesisConfig } from '../shared/types';
import { parseConfig } from './schema';

/** A config, seed or input problem the user must fix. `issues` are `path: expected X, got Y` lines. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(issues.join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError([`${file}: ${what} file not found`]);
    if (code === 'EISDIR') throw new ConfigError([`${file}: expected a ${what} file, got a directory`]);
    throw new ConfigError([`${file}: cannot read ${what} file (${(e as Error).message})`]);
  }
}

function decodeUtf8(file: string, bytes: Buffer): string {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    throw new ConfigError([`${file}: expected UTF-8 text, got bytes that are not valid UTF-8; re-save the file as UTF-8`]);
  }
}

function lineCol(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return { line, col: pos - before.lastIndexOf('\n') };
}

/** JSON.parse with a `file:line:col: invalid JSON (…)` error. */
function parseJson(file: string, text: string, lineOffset = 0): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = file;
    if (m) {
      const { line, col } = lineCol(text, Number(m[1]));
      where = `${file}:${line + lineOffset}:${col}`;
    } else if (lineOffset) {
      where = `${file}:${lineOffset + 1}`;
    }
    throw new ConfigError([`${where}: invalid JSON (${msg})`]);
  }
}

function parseYaml(file: string, text: string): unknown {
  const doc = YAML.parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        return `${pos ? `${file}:${pos.line}:${pos.col}` : file}: invalid YAML (${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')})`;
      }),
    );
  }
  return doc.toJS();
}

/** Reads a config file as JSON (.json) or YAML (.yaml/.yml). Returns the raw value; see parseConfig. */
export function loadConfigFile(file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    throw new ConfigError([`${file}: expected a .json, .yaml or .yml config file, got "${ext || 'no extension'}"`]);
  }
  const text = decodeUtf8(file, readFile(file, 'config'));
  if (!text.trim()) throw new ConfigError([`${file}: expected a config object, got an empty file`]);
  return ext === '.json' ? parseJson(file, text) : parseYaml(file, text);
}

/** Reads and validates a config file; throws ConfigError with `<file>: path: …` issues. */
export function loadConfig(file: string): SynthesisConfig {
  const parsed = parseConfig(loadConfigFile(file));
  if (!parsed.ok) throw new ConfigError(parsed.issues.map((i) => `${file}: ${i}`));
  return parsed.config;
}

function parseJsonLines(file: string, text: string): unknown[] {
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    out.push(parseJson(file, line, i));
  });
  return out;
}

/**
 * Reads a seed file and returns the raw seeds (validate with normalizeSeeds):
 * - a JSON array of strings or `{text, id?, metadata?}` objects (the original's format);
 * - `{"entities": [...]}` (the oldest original);
 * - a single JSON string (as HEAD accepted);
 * - JSONL: one string or object per line (`.jsonl`, or any file that is not one JSON document).
 */
export function loadSeedsFile(file: string): unknown[] {
  const text = decodeUtf8(file, readFile(file, 'seed'));
  if (!text.trim()) throw new ConfigError([`${file}: expected seeds, got an empty file`]);
  const ext = path.extname(file).toLowerCase();
  let value: unknown;
  if (ext === '.jsonl' || ext === '.ndjson') {
    value = parseJsonLines(file, text);
  } else {
    try {
      value = JSON.parse(text);
    } catch (e) {
      const lines = text.split('\n').filter((l) => l.trim());
      if (lines.length > 1) value = parseJsonLines(file, text);
      else value = parseJson(file, text);
    }
  }
  let seeds: unknown[];
  if (Array.isArray(value)) seeds = value;
  else if (typeof value === 'string') seeds = [value];
  else if (value !== null && typeof value === 'object' && Array.isArray((value as { entities?: unknown }).entities)) {
    seeds = (value as { entities: unknown[] }).entities;
  } else {
    throw new ConfigError([
      `${file}: expected a JSON array of seeds, {"entities": [...]}, or JSONL (one seed per line), got ${value === null ? 'null' : typeof value}`,
    ]);
  }
  if (seeds.length === 0) throw new ConfigError([`${file}: expected at least one seed, got an empty list`]);
  return seeds;
}
