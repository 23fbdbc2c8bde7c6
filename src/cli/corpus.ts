/** The offline web for `web` mode: build the local corpus, serve it as a website on 127.0.0.1. */
import { DEFAULT_CORPUS_PORT, defaultCorpusDir, ensureCorpus, startCorpusSite, type CorpusSite } from '../corpus';
import { projectRoot } from '../server/temporal-cli';

const err = (s: string) => process.stderr.write(`${s}\n`);

/** True when a qasynth corpus site answers on `url`. */
export async function corpusSiteUp(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).trim() === 'ok';
  } catch {
    return false;
  }
}

/**
 * Makes sure the local corpus site answers at 127.0.0.1:`port`: reuses a running one, else builds the corpus
 * (first time only) and serves it from this process. Returns the site (null when reused) and its URL.
 */
export async function ensureCorpusSite(port = DEFAULT_CORPUS_PORT, dir = defaultCorpusDir(projectRoot())): Promise<{ url: string; site: CorpusSite | null }> {
  const url = `http://127.0.0.1:${port}`;
  if (await corpusSiteUp(url)) return { url, site: null };
  const t0 = Date.now();
  const built = await ensureCorpus(dir);
  if (built.built) err(`built the offline web corpus in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${built.manifest.pages} pages in ${dir}`);
  const site = await startCorpusSite({ dir, port });
  return { url: site.url, site };
}
