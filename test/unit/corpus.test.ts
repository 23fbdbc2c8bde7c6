import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  buildCorpus,
  clearCorpusCache,
  CORPUS_FORMAT_VERSION,
  decodeDictdNumber,
  DEFAULT_CORPUS_PORT,
  defaultCorpusDir,
  encodeDictdNumber,
  ensureCorpus,
  makeSnippet,
  openCorpus,
  parseBorderCountries,
  parseDictdIndex,
  readDictd,
  readDictdPages,
  readFactbookPages,
  startCorpusSite,
  type CorpusManifest,
  type CorpusPage,
  type CorpusSite,
} from '../../src/corpus';

const DICTD = '/usr/share/dictd';

function readPages(dir: string): CorpusPage[] {
  return readFileSync(join(dir, 'pages.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as CorpusPage);
}

/** Writes a dictd dictionary `<name>.index` + `<name>.dict.dz` from entries (headwords → text). */
async function writeDictd(dir: string, name: string, entries: Array<{ headwords: string[]; text: string }>) {
  let data = '';
  const index: string[] = [];
  const add = (headwords: string[], text: string) => {
    const offset = Buffer.byteLength(data);
    data += text;
    for (const h of headwords) index.push(`${h}\t${encodeDictdNumber(offset)}\t${encodeDictdNumber(Buffer.byteLength(text))}`);
  };
  add(['00-database-info'], 'This is a synthetic test dictionary.\n');
  for (const e of entries) add(e.headwords, e.text);
  await writeFile(join(dir, `${name}.index`), index.sort().join('\n') + '\n');
  await writeFile(join(dir, `${name}.dict.dz`), gzipSync(Buffer.from(data)));
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'qasynth-corpus-'));
});
after(async () => {
  clearCorpusCache();
  await rm(tmp, { recursive: true, force: true });
});

describe('dictd base-64 numbers', () => {
  it('decodes most-significant-first base-64 numbers, not RFC 4648 bytes', () => {
    assert.equal(decodeDictdNumber('A'), 0);
    assert.equal(decodeDictdNumber('B'), 1);
    assert.equal(decodeDictdNumber('/'), 63);
    assert.equal(decodeDictdNumber('BA'), 64);
    assert.equal(decodeDictdNumber('TOeX'), 19 * 64 ** 3 + 14 * 64 ** 2 + 30 * 64 + 23);
    for (const n of [0, 1, 63, 64, 4095, 4096, 1_234_567, 2 ** 40]) assert.equal(decodeDictdNumber(encodeDictdNumber(n)), n);
    assert.throws(() => decodeDictdNumber('A=B'), /invalid base-64 digit/);
    assert.deepEqual(parseDictdIndex('tcp\tTOeX\tJy\nbroken line\n'), [{ headword: 'tcp', offset: 5040023, length: 9 * 64 + 50 }]);
  });

  it('reads a synthetic dictionary: slices, aliases merged, meta entries skipped, links resolved', async () => {
    const dir = join(tmp, 'synthetic');
    await mkdir(dir);
    const filler = 'x'.repeat(5000); // pushes offsets past one and two base-64 digits
    await writeDictd(dir, 'foldoc', [
      {
        headwords: ['transmission control protocol', 'tcp'],
        text: `Transmission Control Protocol\nTCP\n\n   <networking> The most common {transport\n   layer} protocol on the {Internet}.\n\n   ${filler}\n\n`,
      },
      { headwords: ['transport layer'], text: 'transport layer\n\n   Layer four. See {TCP} and {Nonexistent Thing}.\n\n' },
      { headwords: ['internet'], text: 'Internet\n\n   A network of networks using {transport layers}.\n\n' },
    ]);
    const entries = readDictd(dir, 'foldoc');
    assert.equal(entries.length, 3);
    assert.deepEqual(entries.find((e) => e.headwords.includes('tcp'))!.headwords.sort(), ['tcp', 'transmission control protocol']);
    assert.ok(entries.every((e) => !e.headwords.some((h) => h.startsWith('00-database'))));

    const pages = readDictdPages('foldoc', dir);
    const tcp = pages.find((p) => p.title === 'Transmission Control Protocol')!;
    assert.match(tcp.text, /^TCP\n\n<networking> The most common transport layer protocol on the Internet\./);
    assert.deepEqual(tcp.refs.map((r) => [tcp.text.slice(r.start, r.end), r.target]), [
      ['transport layer', 'transport layer'],
      ['Internet', 'Internet'],
    ]);

    const out = join(tmp, 'synthetic-out');
    const built = await buildCorpus({ outDir: out, sources: ['foldoc'], dictdDir: dir });
    assert.equal(built.pages, 3);
    const byTitle = new Map(readPages(out).map((p) => [p.title, p]));
    assert.equal(byTitle.get('Transmission Control Protocol')!.path, '/foldoc/Transmission_Control_Protocol');
    assert.deepEqual(byTitle.get('transport layer')!.links, ['/foldoc/Transmission_Control_Protocol']); // via alias "tcp"
    assert.deepEqual(byTitle.get('Internet')!.links, ['/foldoc/transport_layer']); // plural variant
    assert.deepEqual(built.manifest.links, { total: 5, resolved: 4 });
  });

  it('names the Debian package when a dictd file is missing', async () => {
    const empty = join(tmp, 'empty');
    await mkdir(empty);
    await assert.rejects(buildCorpus({ outDir: join(tmp, 'x'), sources: ['foldoc'], dictdDir: empty }), /apt-get install -y dict-foldoc/);
    await assert.rejects(buildCorpus({ outDir: join(tmp, 'x'), sources: ['jargon'], dictdDir: empty }), /dict-jargon/);
  });
});

describe('source readers (real data)', () => {
  it('FOLDOC: Unix and TCP with text and cross-references', () => {
    const pages = readDictdPages('foldoc', DICTD);
    assert.ok(pages.length > 10_000, `${pages.length} FOLDOC pages`);
    const unix = pages.find((p) => p.title === 'Unix')!;
    assert.match(unix.text, /invented in 1969 by Ken Thompson/);
    const targets = unix.refs.map((r) => r.target);
    for (const t of ['Ken Thompson', 'Multics', 'Dennis Ritchie']) assert.ok(targets.includes(t), t);
    const tcp = pages.find((p) => p.aliases.includes('tcp'))!;
    assert.equal(tcp.title, 'Transmission Control Protocol');
    assert.ok(tcp.refs.some((r) => r.target === 'reliable communication'), 'a link split over two lines');
    assert.ok(pages.every((p) => !p.text.includes('{') || !/\{[A-Za-z][^{};=]{0,40}\}/.test(p.text)), 'markup stripped');
  });

  it('Jargon File: hacker', () => {
    const pages = readDictdPages('jargon', DICTD);
    assert.ok(pages.length > 2000);
    const hacker = pages.find((p) => p.title === 'hacker')!;
    assert.match(hacker.text, /A person who enjoys exploring the details of programmable systems/);
    assert.ok(hacker.refs.some((r) => r.target === 'cracker'));
  });

  it('Factbook: Germany with population, area and border links', () => {
    assert.deepEqual(parseBorderCountries('Angola 2,646 km (of which 225 km is the boundary), Republic of the Congo 1,229 km'), [
      'Angola',
      'Republic of the Congo',
    ]);
    const pages = readFactbookPages();
    assert.ok(pages.length >= 250);
    const de = pages.find((p) => p.title === 'Germany')!;
    assert.match(de.text, /^People and Society: Population: 80,854,408 \(July 2015 est\.\)$/m);
    assert.match(de.text, /^Geography: Area: total: 357,022 sq km$/m);
    const borders = de.refs.map((r) => de.text.slice(r.start, r.end));
    assert.ok(borders.includes('Austria') && borders.includes('Poland'), borders.join(', '));
    assert.ok(pages.some((p) => p.title === 'Pacific Ocean') && pages.some((p) => p.title === 'European Union'));
  });
});

describe('full build (all sources)', () => {
  let manifest: CorpusManifest;
  let pages: CorpusPage[];
  const out = () => join(tmp, 'full');

  before(async () => {
    const started = Date.now();
    const r = await buildCorpus({ outDir: out() });
    manifest = r.manifest;
    pages = readPages(out());
    const share = (manifest.links.resolved / manifest.links.total) * 100;
    console.log(
      `# full corpus: ${r.pages} pages ${JSON.stringify(r.bySource)} built in ${Date.now() - started} ms; ` +
        `links resolved ${manifest.links.resolved}/${manifest.links.total} (${share.toFixed(1)}%)`,
    );
  });

  it('writes unique paths, a manifest, and links that all point at existing pages', () => {
    assert.equal(manifest.formatVersion, CORPUS_FORMAT_VERSION);
    assert.equal(manifest.pages, pages.length);
    assert.ok(manifest.bySource.foldoc! > 10_000 && manifest.bySource.jargon! > 2000 && manifest.bySource.factbook! > 250);
    const paths = new Set(pages.map((p) => p.path));
    assert.equal(paths.size, pages.length, 'unique paths');
    assert.equal(new Set(pages.map((p) => p.id)).size, pages.length, 'unique ids');
    for (const p of pages) {
      assert.match(p.path, /^\/(foldoc|jargon|factbook)\/[A-Za-z0-9_.~!*'()%+,:@-]+$/, p.path);
      assert.doesNotThrow(() => new URL(`http://h${p.path}`));
      for (const l of p.links) assert.ok(paths.has(l), `${p.path} → ${l}`);
      for (const [s, e, li] of p.anchors ?? []) assert.ok(s < e && e <= p.text.length && li < p.links.length);
    }
    assert.ok(manifest.links.resolved / manifest.links.total > 0.75, JSON.stringify(manifest.links));
  });

  it('contains multi-hop chains across pages (A → B → C)', () => {
    const byPath = new Map(pages.map((p) => [p.path, p]));
    const unix = pages.find((p) => p.path === '/foldoc/Unix')!;
    const b = byPath.get('/foldoc/Ken_Thompson')!;
    assert.ok(unix.links.includes(b.path));
    const c = b.links.map((l) => byPath.get(l)!).find((p) => p.path !== unix.path)!;
    assert.ok(c, 'Ken Thompson links onwards');
    const de = byPath.get('/factbook/Germany')!;
    const at = byPath.get('/factbook/Austria')!;
    assert.ok(de.links.includes(at.path) && at.links.some((l) => l !== de.path && byPath.has(l)), 'Germany → Austria → …');
  });
});

describe('search and site (limited build)', () => {
  let dir: string;
  let site: CorpusSite;

  before(async () => {
    dir = join(tmp, 'limited');
    const r = await buildCorpus({ outDir: dir, limit: 300 });
    assert.equal(r.bySource.foldoc, 300);
    assert.equal(r.bySource.jargon, 300);
    assert.equal(r.bySource.factbook, 261);
    site = await startCorpusSite({ dir });
  });
  after(async () => {
    await site?.close();
  });

  it('keeps a link-connected subset under limit', () => {
    const pages = readPages(dir).filter((p) => p.source !== 'factbook'); // islands have no border links
    const linked = new Set(pages.flatMap((p) => p.links));
    const connected = pages.filter((p) => p.links.length > 0 || linked.has(p.path)).length;
    assert.ok(connected / pages.length > 0.95, `${connected}/${pages.length} pages link or are linked`);
  });

  it('ranks the page first for its title, with a snippet around the query', async () => {
    const corpus = await openCorpus(dir);
    assert.equal(corpus, await openCorpus(dir), 'cached');
    assert.equal(corpus.size, 861);
    const sample = corpus.pages.filter((_, i) => i % 37 === 0);
    for (const p of sample) {
      const top = corpus.search(p.title, 5)[0];
      assert.ok(top, p.title);
      assert.equal(top.title.toLowerCase(), p.title.toLowerCase(), `query ${JSON.stringify(p.title)}`);
    }
    const [de] = corpus.search('population of Germany', 3);
    assert.equal(de!.path, '/factbook/Germany');
    assert.match(de!.snippet, /Population: 80,854,408/);
    assert.ok(de!.snippet.length <= 260);
    assert.equal(corpus.search('   ', 3).length, 0);
    assert.equal(makeSnippet('short text', 'x'), 'short text');
  });

  it('serves HTML pages with header, nav, article, links, aside and licence footer', async () => {
    const corpus = await openCorpus(dir);
    const page = corpus.pages.find((p) => p.source === 'foldoc' && p.links.length >= 2 && /[<&"]/.test(p.text))!;
    const res = await fetch(`${site.url}${page.path}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await res.text();
    assert.match(html, /<header>[\s\S]*<\/header>\s*<nav[\s\S]*<a href="\/">Home<\/a>[\s\S]*<\/nav>/);
    assert.match(html, /<main>\s*<article>\s*<h1>[^<]+<\/h1>/);
    assert.match(html, /<aside><h2>Related<\/h2><ul><li><a href="\//);
    assert.match(html, /<footer>[\s\S]*GNU Free Documentation License[\s\S]*public domain[\s\S]*<\/footer>/);
    const article = html.slice(html.indexOf('<article>'), html.indexOf('</article>'));
    for (const l of page.links) assert.ok(article.includes(`<a href="${l.replace(/&/g, '&amp;').replace(/'/g, '&#39;')}">`), l);
    assert.ok(!/<(?!\/?(a|p|br|h1|article)\b)[a-z]/i.test(article.replace(/^<article>/, '')), 'text is escaped');

    const idx = await (await fetch(`${site.url}/`)).text();
    assert.ok((idx.match(/<li><a href="\/(foldoc|jargon|factbook)\//g) ?? []).length >= 250);
    const list = await fetch(`${site.url}/factbook/`);
    assert.equal(list.status, 200);
    assert.match(await list.text(), /<a href="\/factbook\/Germany">Germany<\/a>/);
  });

  it('follows a multi-hop chain over HTTP', async () => {
    let path = '/factbook/Germany';
    const seen = [path];
    for (let hop = 0; hop < 2; hop++) {
      const html = await (await fetch(`${site.url}${path}`)).text();
      const article = html.slice(html.indexOf('<article>'), html.indexOf('</article>'));
      const next = [...article.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]!).find((h) => !seen.includes(h));
      assert.ok(next, `a new link on ${path}`);
      const r = await fetch(`${site.url}${next}`);
      assert.equal(r.status, 200, next);
      await r.arrayBuffer();
      path = next;
      seen.push(path);
    }
    assert.equal(seen.length, 3);
  });

  it('/search returns absolute URLs (k default 5, max 10)', async () => {
    const r = await fetch(`${site.url}/search?q=${encodeURIComponent('population Germany')}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^application\/json; charset=utf-8$/);
    const body = (await r.json()) as { results: Array<{ title: string; url: string; snippet: string }> };
    assert.equal(body.results.length, 5);
    assert.deepEqual(Object.keys(body.results[0]!).sort(), ['snippet', 'title', 'url']);
    assert.equal(body.results[0]!.url, `${site.url}/factbook/Germany`);
    for (const h of body.results) {
      const page = await fetch(h.url);
      assert.equal(page.status, 200, h.url);
      await page.arrayBuffer();
    }
    const many = (await (await fetch(`${site.url}/search?q=population&k=50`)).json()) as { results: unknown[] };
    assert.equal(many.results.length, 10);
    assert.equal((await fetch(`${site.url}/search?q=`)).status, 400);
  });

  it('404s unknown paths, redirects aliases, answers /health', async () => {
    const nf = await fetch(`${site.url}/foldoc/No_Such_Page_xyz`);
    assert.equal(nf.status, 404);
    assert.match(await nf.text(), /<h1>Page not found<\/h1>/);
    assert.equal((await fetch(`${site.url}/nowhere`)).status, 404);
    const health = await fetch(`${site.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    const redirect = await fetch(`${site.url}/factbook/germany`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/factbook/Germany');
  });
});

describe('CLI glue', () => {
  it('defaultCorpusDir, DEFAULT_CORPUS_PORT and ensureCorpus (build once, rebuild on format change)', async () => {
    assert.equal(defaultCorpusDir('/repo'), '/repo/.state/corpus');
    assert.equal(DEFAULT_CORPUS_PORT, 8300);
    const dir = join(tmp, 'ensure');
    const first = await ensureCorpus(dir, { sources: ['jargon'] });
    assert.equal(first.built, true);
    assert.equal((await ensureCorpus(dir, { sources: ['jargon'] })).built, false);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CorpusManifest;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, formatVersion: 0 }));
    const again = await ensureCorpus(dir, { sources: ['jargon'] });
    assert.equal(again.built, true);
    assert.equal(again.manifest.formatVersion, CORPUS_FORMAT_VERSION);
  });
});
