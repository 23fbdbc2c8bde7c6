import fs from 'node:fs';
import path from 'node:path';
import type { PerSeedStatistics, RunStatistics } from '../../src/domain/statistics';
import { readJsonl } from './temporal';

/**
 * A run's statistics file with its per-seed rows: `per_seed` from the file itself (runs of ≤ 10,000 seeds), else
 * read from the per-seed file next to it (`per_seed_file`, every run has one). When both exist they must agree.
 */
export function readStatistics(statisticsPath: string): RunStatistics & { per_seed: PerSeedStatistics[] } {
  const stats = JSON.parse(fs.readFileSync(statisticsPath, 'utf8')) as RunStatistics;
  const file = stats.per_seed_file ? path.join(path.dirname(statisticsPath), stats.per_seed_file) : null;
  const rows = file ? readJsonl<PerSeedStatistics>(file) : null;
  if (stats.per_seed && rows) {
    if (JSON.stringify(stats.per_seed) !== JSON.stringify(rows)) throw new Error(`${file}: per-seed rows differ from statistics.per_seed`);
  }
  const perSeed = stats.per_seed ?? rows;
  if (!perSeed) throw new Error(`${statisticsPath}: no per-seed rows (neither per_seed nor per_seed_file)`);
  return { ...stats, per_seed: perSeed };
}
