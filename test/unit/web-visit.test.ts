import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { FailureType, MAX_OBSERVATION_CHARS } from '../../src/shared/constants';
import { executeTool } from '../../src/tools/registry';
import type { ToolContext } from '../../src/tools/tool';
import { extractMainText, FALLBACK_SUMMARY_CHARS, webVisitTool } from '../../src/tools/web-visit';
import { installConnectGuard, type ConnectGuard } from '../helpers/connect-guard';
import { PdfReadError, pdfToText } from '../../src/tools/pdf-text';
import { failedCallSpend } from '../../src/domain/failure-accounting';
import { ARTICLE_HTML, JINA_TEST_KEY, PAPER_PDF, startTestSite, type TestSite } from '../helpers/test-site';

let site: TestSite;
let sim: Simulator;
let guard: ConnectGuard;
const savedJina = process.env.JINA_API_KEY;

before(async () => {
  site = await startTestSite({ slowMs: 20_000 });
  sim = await startSimulator();
  guard = installConnectGuard();
});
after(async () => {
  guard.uninstall();
  await site.close();
  await sim.close();
  if (savedJina === undefined) delete process.env.JINA_API_KEY;
  else process.env.JINA_API_KEY = savedJina;
});
beforeEach(() => {
  delete process.env.JINA_API_KEY;
  sim.clearScript();
  sim.resetLog();
  guard.reset();
});
afterEach(() => assert.deepEqual(guard.blocked, [], 'no connection left 127.0.0.1'));

function ctx(extra: Record<string, unknown> = {}, withLlm = false): ToolContext {
  const c: ToolContext = { environment_kwargs: { allow_private_hosts: [site.hostPort], ...extra } };
  if (withLlm) c.llm = { client: () => new OpenAI({ baseURL: sim.url, apiKey: 'sim-key', maxRetries: 0 }), model: 'sim-summary' };
  return c;
}

function visit(paths: string[], c: ToolContext = ctx(), goal = 'When was the Analytical Engine first described?') {
  return webVisitTool.execute({ urls: paths.map((p) => (p.startsWith('/') ? `${site.url}${p}` : p)), goal }, c);
}

describe('extractMainText', () => {
  it('keeps the article as markdown with absolute links and drops page chrome', () => {
    const { title, markdown } = extractMainText(ARTICLE_HTML, 'http://site.test/wiki/engine');
    assert.match(title, /The Analytical Engine/);
    assert.match(markdown, /first described in 1837/);
    assert.match(markdown, /## Design/);
    assert.match(markdown, /\[Ada Lovelace\]\(http:\/\/site\.test\/people\/ada-lovelace\)/);
    assert.match(markdown, /\[translated notes\]\(https:\/\/example\.org\/notes\)/);
    for (const chrome of ['NAV-HOME', 'SITE-HEADER-LOGO', 'SIDEBAR-AD-TEXT', 'SITE-FOOTER-COPYRIGHT', 'TRACKING-SCRIPT-TEXT', 'FOOTER-SCRIPT-TEXT']) {
      assert.ok(!markdown.includes(chrome), `${chrome} should be dropped`);
    }
    // Blocks stay separated (linkedom's textContent would glue "1837." to the next paragraph).
    assert.match(markdown, /Difference Engine\.\n\n/);
  });

  it('falls back to the body text without nav/footer when there is no article', () => {
    const { title, markdown } = extractMainText(
      '<html><head><title>Tiny</title></head><body><nav>NAV-ONLY</nav><div>TINY-BODY-TEXT 42 <a href="x">x</a></div><footer>FOOT</footer></body></html>',
      'http://site.test/a/',
    );
    assert.equal(title, 'Tiny');
    assert.match(markdown, /TINY-BODY-TEXT 42/);
    assert.match(markdown, /\(http:\/\/site\.test\/a\/x\)/);
    assert.ok(!markdown.includes('NAV-ONLY') && !markdown.includes('FOOT'));
  });
});

describe('web_visit without an LLM (excerpt fallback)', () => {
  it('reads the article, keeps the URL, drops nav/footer', async () => {
    const res = await visit(['/article']);
    assert.equal(res.error, undefined);
    assert.ok(res.text.startsWith(`1. ${site.url}/article\n`), res.text.slice(0, 100));
    assert.match(res.text, /first described in 1837/);
    assert.ok(!res.text.includes('NAV-HOME') && !res.text.includes('SITE-FOOTER-COPYRIGHT'));
    assert.deepEqual(res.sources, [`${site.url}/article`]);
  });

  it('web_visit_summarize false uses the excerpt even with an LLM', async () => {
    const res = await visit(['/article'], ctx({ web_visit_summarize: false }, true));
    assert.match(res.text, /first described in 1837/);
    assert.equal(sim.requests().length, 0);
    assert.equal(res.llm_usage, undefined, 'no LLM call, nothing to charge');
  });

  it('caps the excerpt at 3,000 characters', async () => {
    const res = await visit(['/huge'], ctx({ web_visit_max_bytes: 200_000 }));
    const body = res.text.split('\n').slice(1).join('\n');
    assert.ok(body.length <= FALLBACK_SUMMARY_CHARS + 100, `excerpt ${body.length} chars`);
    assert.match(body, /\[… page continues\]$/);
  });

  it('follows redirects and says where it landed', async () => {
    const res = await visit(['/redirect/1']);
    assert.ok(res.text.startsWith(`1. ${site.url}/redirect/1 (redirected to ${site.url}/article)\n`));
    assert.match(res.text, /1837/);
  });

  it('a slow page becomes a timeout entry within the limit', async () => {
    const started = Date.now();
    const res = await visit(['/slow'], ctx({ web_visit_timeout_seconds: 0.4 }));
    assert.ok(Date.now() - started < 3000);
    assert.equal(res.error, true);
    assert.match(res.text, new RegExp(`^\\*\\*Failed URLs:\\*\\*\\n- ${site.url}/slow: Timed out after 400 ms`));
    assert.equal(res.sources, undefined);
  });

  it('a huge page is capped at the default 2 MB without crashing', async () => {
    const res = await visit(['/huge']);
    assert.equal(res.error, undefined);
    assert.match(res.text, /Lorem ipsum/);
    const obs = await executeTool('web_visit', { urls: [`${site.url}/huge`], goal: 'anything' }, ctx());
    assert.ok(obs.text.length <= MAX_OBSERVATION_CHARS);
  });

  it('refuses binary content types', async () => {
    const res = await visit(['/image.png']);
    assert.equal(res.error, true);
    assert.match(res.text, /- http:\/\/127\.0\.0\.1:\d+\/image\.png: unsupported content type image\/png/);
  });

  it('decodes a windows-1252 page declared by <meta charset>', async () => {
    const res = await visit(['/latin1']);
    assert.match(res.text, /Café Müller in Zürich sells coffee for 5 €/);
    assert.match(res.text, /crème brûlée/);
  });

  it('reads plain text, JSON and gzip pages', async () => {
    const res = await visit(['/plain.txt', '/data.json', '/gzip-article']);
    assert.match(res.text, /1\. .*\/plain\.txt\nPLAIN-TEXT line one\.\nThe Difference Engine was designed in 1822\./);
    assert.match(res.text, /2\. .*\/data\.json\n```json\n\{\n {2}"name": "Analytical Engine",\n {2}"year": 1837/);
    assert.match(res.text, /3\. .*\/gzip-article\n[\s\S]*first described in 1837/);
    assert.equal(res.sources?.length, 3);
  });

  it('lists failed URLs after the pages; error only when all failed', async () => {
    const res = await visit(['/article', '/missing', 'ftp://example.test/x']);
    assert.equal(res.error, undefined);
    assert.match(res.text, /^1\. http:\/\/127\.0\.0\.1:\d+\/article\n/);
    assert.match(res.text, /\n\n\*\*Failed URLs:\*\*\n- http:\/\/127\.0\.0\.1:\d+\/missing: HTTP 404[^\n]*\n- ftp:\/\/example\.test\/x: refused: scheme ftp is not allowed/);
    assert.deepEqual(res.sources, [`${site.url}/article`]);
  });

  it('truncates page markdown to web_visit_max_chars', async () => {
    const res = await visit(['/article'], ctx({ web_visit_max_chars: 120 }));
    const body = res.text.split('\n').slice(1).join('\n');
    assert.ok(body.length < 400, body);
  });
});

describe('web_visit SSRF', () => {
  it('refuses loopback by default, naming allow_private_hosts, without connecting', async () => {
    const res = await webVisitTool.execute({ urls: [`${site.url}/article`, 'http://169.254.169.254/latest/meta-data', 'http://[::1]/'], goal: 'g' }, { environment_kwargs: {} });
    assert.equal(res.error, true);
    assert.match(res.text, /127\.0\.0\.1 a loopback address; allow it with environment_kwargs\.allow_private_hosts \(e\.g\. "127\.0\.0\.1:\d+"\)/);
    assert.match(res.text, /169\.254\.169\.254 a link-local address/);
    assert.match(res.text, /::1 a loopback address/);
    assert.deepEqual(guard.attempts, []);
  });

  it('refuses a redirect to a private or metadata address', async () => {
    const res = await visit(['/to-private', '/to-metadata']);
    assert.equal(res.error, true);
    assert.match(res.text, /\/to-private: Refused to fetch http:\/\/10\.0\.0\.1\/: 10\.0\.0\.1 a private address/);
    assert.match(res.text, /\/to-metadata: Refused to fetch http:\/\/169\.254\.169\.254\/latest\/meta-data: 169\.254\.169\.254 a link-local/);
    assert.ok(guard.attempts.every((a) => a.startsWith('127.0.0.1:')));
  });
});

describe('web_visit with an LLM summary (simulator)', () => {
  it('summarises each page against the goal, keeping the URL', async () => {
    const res = await visit(['/article', '/plain.txt'], ctx({}, true));
    assert.equal(res.error, undefined);
    assert.match(res.text, new RegExp(`^1\\. ${site.url}/article\\n.+`));
    assert.match(res.text, new RegExp(`\\n\\n2\\. ${site.url}/plain\\.txt\\n.+`));
    const reqs = sim.requests();
    assert.equal(reqs.length, 2);
    for (const r of reqs) {
      assert.equal(r.kind, 'text');
      assert.equal(r.model, 'sim-summary');
      assert.equal(r.temperature, 0.3);
    }
    assert.deepEqual(res.sources, [`${site.url}/article`, `${site.url}/plain.txt`]);
    // What the two summaries cost comes back with the observation, for the seed to charge.
    assert.equal(res.llm_usage?.model, 'sim-summary');
    assert.equal(res.llm_usage?.calls, 2);
    assert.equal(res.llm_usage?.requests, 2);
    assert.ok(res.llm_usage!.input_tokens > 0 && res.llm_usage!.output_tokens > 0, JSON.stringify(res.llm_usage));
  });

  it('a retry after one page\'s 429 pays only for that page: the other summary is kept in the attempt memo, and both are charged once', async () => {
    const values = new Map<string, unknown>();
    const memo = { get: (k: string) => values.get(k), set: (k: string, v: unknown) => void values.set(k, v) };
    const c = { ...ctx({}, true), attemptMemo: memo };
    sim.script([{ match: { contains: 'PLAIN-TEXT' }, times: 1, respond: { status: 429, headers: { 'retry-after': '1' } } }]);
    await assert.rejects(visit(['/article', '/plain.txt'], c), (e: unknown) => e instanceof ApplicationFailure && e.type === FailureType.RateLimited);
    assert.equal([...values.keys()].filter((k) => k.startsWith('web_visit/summary')).length, 1, 'the summary that succeeded is kept for the retry');
    assert.equal(values.get('web_visit/unanswered_requests'), 1, 'and the request that got the 429 is counted');
    assert.equal(sim.requests().length, 2);
    const res = await visit(['/article', '/plain.txt'], c); // the activity's retry, with the memo its last heartbeat carried
    assert.equal(sim.requests().length, 3, 'only the page that failed is summarised again');
    assert.equal(res.error, undefined);
    assert.match(res.text, new RegExp(`\\n\\n2\\. ${site.url}/plain\\.txt\\n.+`));
    assert.equal(res.llm_usage?.calls, 2, 'both summaries are charged, once');
    // As an LLM activity counts the requests of its failed attempts: the provider saw 3 requests for 2 answers.
    assert.equal(res.llm_usage?.requests, 3, 'the kept summary\'s request once, the 429 and the retried summary');
  });

  it('a call whose every attempt fails tells, in its failure, every request it sent and the summaries it was billed for (for the seed to charge)', async () => {
    // What the article's summary costs, from a call that succeeds (the simulator bills the same prompt the same).
    const alone = await visit(['/article'], ctx({}, true));
    sim.resetLog();
    const values = new Map<string, unknown>();
    const memo = { get: (k: string) => values.get(k), set: (k: string, v: unknown) => void values.set(k, v) };
    const c = { ...ctx({}, true), attemptMemo: memo };
    // (The page's own text: every summary prompt says "plain text".)
    sim.script([{ match: { contains: 'PLAIN-TEXT' }, respond: { status: 429, headers: { 'retry-after': '1' } } }]);
    const told = (e: unknown) => (e instanceof ApplicationFailure ? failedCallSpend(e) : undefined);
    const billed = { model: 'sim-summary', calls: 1, input_tokens: alone.llm_usage!.input_tokens, output_tokens: alone.llm_usage!.output_tokens };
    // First attempt: one summary answered, one refused; second: the answered one kept, the other refused again.
    await assert.rejects(visit(['/article', '/plain.txt'], c), (e: unknown) => {
      assert.deepEqual(told(e), { requests: 2, paid: { ...billed, requests: 2 } });
      return true;
    });
    // The kept summary was billed in the first attempt and is charged with the failure the seed sees: once.
    await assert.rejects(visit(['/article', '/plain.txt'], c), (e: unknown) => {
      assert.deepEqual(told(e), { requests: 3, paid: { ...billed, requests: 3 } });
      return true;
    });
    assert.equal(sim.requests().length, 3, 'the failure counts every request the endpoint saw');
    // A call refused before any summary was answered names its requests only.
    sim.script([{ respond: { status: 401 } }]);
    const fresh = new Map<string, unknown>();
    const c2 = { ...ctx({}, true), attemptMemo: { get: (k: string) => fresh.get(k), set: (k: string, v: unknown) => void fresh.set(k, v) } };
    await assert.rejects(visit(['/article'], c2), (e: unknown) => {
      assert.deepEqual(told(e), { requests: 1, paid: null });
      return true;
    });
  });

  it('a retry with nothing left to summarise (the page that failed cannot be read now) still reports the requests refused before', async () => {
    // The memo the last heartbeat carried: one summary request got a 429 in an earlier attempt.
    const values = new Map<string, unknown>([['web_visit/unanswered_requests', 1]]);
    const c = { ...ctx({}, true), attemptMemo: { get: (k: string) => values.get(k), set: (k: string, v: unknown) => void values.set(k, v) } };
    const res = await visit(['/image.png'], c);
    assert.equal(res.error, true);
    assert.equal(sim.requests().length, 0);
    assert.deepEqual(res.llm_usage, { model: 'sim-summary', calls: 0, requests: 1, input_tokens: 0, output_tokens: 0 });
  });

  it('a summary paid in an earlier attempt is reported once by the attempt that ends the call, even if its page cannot be read any more', async () => {
    const alone = await visit(['/article'], ctx({}, true));
    sim.resetLog();
    const values = new Map<string, unknown>();
    const c = { ...ctx({}, true), attemptMemo: { get: (k: string) => values.get(k), set: (k: string, v: unknown) => void values.set(k, v) } };
    sim.script([{ match: { contains: 'PLAIN-TEXT' }, respond: { status: 429, headers: { 'retry-after': '1' } } }]);
    await assert.rejects(visit(['/article', '/plain.txt'], c)); // the article's summary paid, plain.txt's refused
    const billed = { model: 'sim-summary', calls: 1, input_tokens: alone.llm_usage!.input_tokens, output_tokens: alone.llm_usage!.output_tokens };
    // Retries in which the article is not read (stand-ins for a page gone since): one fails again, one ends.
    await assert.rejects(visit(['/plain.txt'], c), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.deepEqual(failedCallSpend(e), { requests: 3, paid: { ...billed, requests: 3 } });
      return true;
    });
    const res = await visit(['/image.png'], c);
    assert.equal(res.error, true);
    assert.deepEqual(res.llm_usage, { ...billed, requests: 3 }, 'the summary once, the two refused requests');
    assert.equal(sim.requests().length, 3);
  });

  it('an LLM 429 is thrown as retryable RateLimited with nextRetryDelay', async () => {
    sim.script([{ respond: { status: 429, headers: { 'retry-after': '2' } } }]);
    await assert.rejects(visit(['/article'], ctx({}, true)), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.equal(e.type, FailureType.RateLimited);
      assert.equal(e.nonRetryable, false);
      assert.equal(e.nextRetryDelay, 2000);
      return true;
    });
  });

  it('an LLM 401 is thrown as non-retryable LlmAuth; a 500 as retryable LlmUnavailable', async () => {
    sim.script([{ respond: { status: 401 } }]);
    await assert.rejects(visit(['/article'], ctx({}, true)), (e: unknown) => e instanceof ApplicationFailure && e.type === FailureType.LlmAuth && e.nonRetryable);
    sim.script([{ respond: { status: 500 } }]);
    await assert.rejects(visit(['/article'], ctx({}, true)), (e: unknown) => e instanceof ApplicationFailure && e.type === FailureType.LlmUnavailable && !e.nonRetryable);
  });

  it('does not call the LLM for pages that failed', async () => {
    const res = await visit(['/image.png'], ctx({}, true));
    assert.equal(res.error, true);
    assert.equal(sim.requests().length, 0);
  });
});

describe('web_visit through Jina Reader', () => {
  it('uses Jina when JINA_API_KEY is set (auto) and direct when web_visit_reader is direct', async () => {
    process.env.JINA_API_KEY = JINA_TEST_KEY;
    const jina = ctx({ web_visit_jina_url: `${site.url}/jina` });
    const res = await webVisitTool.execute({ urls: ['https://example.test/engine'], goal: 'g' }, jina);
    assert.equal(res.error, undefined);
    assert.match(res.text, /^1\. https:\/\/example\.test\/engine\n[\s\S]*JINA-READER-CONTENT/);
    assert.ok(site.hits.includes('/jina/https://example.test/engine'));
    const direct = await visit(['/article'], ctx({ web_visit_jina_url: `${site.url}/jina`, web_visit_reader: 'direct' }));
    assert.match(direct.text, /first described in 1837/);
  });

  it('web_visit_reader jina without the key → ToolAuth before any request; a rejected key → ToolAuth', async () => {
    const hits = site.hits.length;
    await assert.rejects(visit(['/article'], ctx({ web_visit_reader: 'jina' })), (e: unknown) =>
      e instanceof ApplicationFailure && e.type === FailureType.ToolAuth && e.nonRetryable && /JINA_API_KEY/.test(e.message),
    );
    assert.equal(site.hits.length, hits);
    process.env.JINA_API_KEY = 'jina_wrong_0123456789';
    await assert.rejects(visit(['https://example.test/x'], ctx({ web_visit_reader: 'jina', web_visit_jina_url: `${site.url}/jina` })), (e: unknown) =>
      e instanceof ApplicationFailure && e.type === FailureType.ToolAuth && /JINA_API_KEY/.test(e.message) && !e.message.includes('jina_wrong_0123456789'),
    );
  });
});

describe('web_visit isolates each URL (messy servers)', () => {
  const failedLine = (text: string, path: string) => text.split('\n').find((l) => l.startsWith(`- ${site.url}${path}: `))?.slice(`- ${site.url}${path}: `.length);

  for (const [path, reason] of [
    ['/pdf-as-html', null], // read as the PDF it is, below
    ['/empty', /^the server sent an empty body \(text\/html\)$/],
    ['/whitespace', /^the server sent only whitespace \(text\/html\)$/],
    ['/binary-as-html', /^unsupported content: binary data sent as text\/html \(web_visit reads HTML, plain text, markdown, JSON and PDF\)$/],
    ['/zip-as-html', /^unsupported content: a ZIP archive \(or \.docx\/\.xlsx\/\.epub\) sent as text\/html/],
    ['/js-only', /^the HTML page has no readable text \(it may need JavaScript to render\)$/],
    ['/encrypted.pdf', /^PDF could not be read: it is encrypted \(password-protected\)$/],
    ['/scanned.pdf', /^PDF could not be read: no text layer in 1 page \(scanned images only\?\)$/],
    ['/corrupt.pdf', /^PDF could not be read: invalid or corrupt PDF structure/],
  ] as const) {
    it(`${path} between two good pages: the good summaries survive${reason ? ', the bad URL is listed with its reason' : ''}`, async () => {
      const res = await visit(['/article', path, '/plain.txt'], ctx({}, true));
      assert.equal(res.error, undefined, res.text);
      assert.match(res.text, new RegExp(`^1\\. ${site.url}/article\\n.+`));
      if (reason) {
        assert.match(res.text, new RegExp(`\\n\\n2\\. ${site.url}/plain\\.txt\\n.+`));
        assert.match(failedLine(res.text, path) ?? '(not listed)', reason);
        assert.deepEqual(res.sources, [`${site.url}/article`, `${site.url}/plain.txt`]);
        assert.equal(sim.requests().length, 2, 'only the good pages are summarised');
      } else {
        assert.equal(res.sources?.length, 3);
        assert.doesNotMatch(res.text, /Failed URLs/);
      }
    });
  }

  it('PDF bytes served as text/html are read as the PDF', async () => {
    const res = await visit(['/pdf-as-html']);
    assert.equal(res.error, undefined, res.text);
    assert.match(res.text, /PDF-FIXTURE-PAGE-ONE: Charles Babbage designed the engine between 1847 and 1849\./);
    assert.match(res.text, /PDF-FIXTURE-PAGE-TWO/);
  });

  it('plain text served as text/html, an HTML fragment, and mislabelled charsets are read', async () => {
    const res = await visit(['/text-as-html', '/fragment', '/utf16-mislabelled', '/latin1-undeclared']);
    assert.equal(res.error, undefined, res.text);
    assert.match(res.text, /1\. .*\/text-as-html\nTEXT-AS-HTML: The Jacquard loom, patented in 1804, used punched cards\.\nBabbage adopted them\./);
    assert.match(res.text, /2\. .*\/fragment\n[\s\S]*FRAGMENT-TEXT: Menabrea published his paper on the engine in 1842\./);
    assert.match(res.text, /3\. .*\/utf16-mislabelled\n[\s\S]*UTF16-MISLABELLED: plain ASCII text declared as UTF-16\./);
    assert.match(res.text, /4\. .*\/latin1-undeclared\n[\s\S]*LATIN1-UNDECLARED: Café Müller, 5 €\./);
    assert.doesNotMatch(res.text, /Failed URLs/);
  });

  it('every URL bad → an error observation listing each reason', async () => {
    const res = await visit(['/empty', '/binary-as-html', '/scanned.pdf'], ctx({}, true));
    assert.equal(res.error, true);
    assert.equal(res.sources, undefined);
    assert.match(res.text, /^\*\*Failed URLs:\*\*\n/);
    assert.equal(res.text.split('\n').filter((l) => l.startsWith('- ')).length, 3);
    assert.equal(sim.requests().length, 0);
  });

  it('a 5 MB body of NUL bytes is refused with a short reason', async () => {
    const res = await visit(['/nul-huge']);
    assert.equal(res.error, true);
    assert.match(failedLine(res.text, '/nul-huge') ?? '', /^unsupported content: binary data sent as text\/html/);
    assert.ok(res.text.length < 400, `${res.text.length} chars`);
  });
});

describe('web_visit reads PDFs', () => {
  it('pdfToText reads the title and the pages, within the page and character caps', async () => {
    const all = await pdfToText(PAPER_PDF, { maxChars: 10_000 });
    assert.equal(all.title, 'The Difference Engine No. 2');
    assert.deepEqual([all.pages, all.pagesRead, all.truncated], [2, 2, false]);
    assert.match(all.text, /^The Difference Engine No\. 2\nPDF-FIXTURE-PAGE-ONE/);
    const onePage = await pdfToText(PAPER_PDF, { maxChars: 10_000, maxPages: 1 });
    assert.deepEqual([onePage.pagesRead, onePage.truncated], [1, true]);
    assert.doesNotMatch(onePage.text, /PAGE-TWO/);
    const fewChars = await pdfToText(PAPER_PDF, { maxChars: 20 });
    assert.deepEqual([fewChars.text, fewChars.truncated], ['The Difference Engin', true]);
    await assert.rejects(pdfToText(Buffer.from('%PDF-1.7\n'), { maxChars: 100 }), (e: unknown) => e instanceof PdfReadError && /^PDF could not be read: /.test(e.message));
  });

  it('application/pdf → the text of its pages', async () => {
    const res = await visit(['/paper.pdf']);
    assert.equal(res.error, undefined, res.text);
    assert.ok(res.text.startsWith(`1. ${site.url}/paper.pdf\nThe Difference Engine No. 2\nPDF-FIXTURE-PAGE-ONE`), res.text.slice(0, 200));
    assert.match(res.text, /PDF-FIXTURE-PAGE-ONE: Charles Babbage designed the engine between 1847 and 1849\.\nThe Science Museum in London completed a working engine in 1991\./);
    assert.match(res.text, /in 1991\.\nIt has about 8,000 parts[^\n]*\n\nPDF-FIXTURE-PAGE-TWO: The printer attached to the engine was completed in 2000\./);
    assert.deepEqual(res.sources, [`${site.url}/paper.pdf`]);
  });

  it('a PDF sent as application/octet-stream is recognised by its header', async () => {
    const res = await visit(['/paper-octet']);
    assert.match(res.text, /PDF-FIXTURE-PAGE-TWO/);
  });

  it('the LLM summarises the PDF text against the goal', async () => {
    // The simulator's summary is extractive: it quotes the page sentences that share the most words with the goal.
    const res = await visit(['/paper.pdf'], ctx({}, true), 'When was the printer completed?');
    assert.equal(res.error, undefined);
    assert.equal(sim.requests().length, 1);
    assert.equal(sim.requests()[0]!.kind, 'text');
    assert.match(res.text, /^1\. .*\/paper\.pdf\n[^\n]*The printer attached to the engine was completed in 2000\./);
  });

  it('caps PDF text at web_visit_max_chars', async () => {
    const res = await visit(['/paper.pdf'], ctx({ web_visit_max_chars: 60, web_visit_summarize: false }));
    assert.match(res.text, /PDF-FIXTURE-PAGE-ONE/);
    assert.doesNotMatch(res.text, /PDF-FIXTURE-PAGE-TWO/);
  });

  it('a PDF cut at web_visit_max_bytes is refused naming the limit', async () => {
    const res = await visit(['/pdf-as-html'], ctx({ web_visit_max_bytes: 1000 }));
    assert.equal(res.error, true);
    assert.match(res.text, /pdf-as-html: PDF could not be read: the file is larger than 1,000 bytes and was cut there \(raise environment_kwargs\.web_visit_max_bytes to read it\)/);
  });
});
