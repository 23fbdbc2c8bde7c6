import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, NON_RETRYABLE_TYPES } from '../../src/shared/constants';
import { executeTool } from '../../src/tools/registry';
import { webSearchTool } from '../../src/tools/web-search';
import { installConnectGuard, type ConnectGuard } from '../helpers/connect-guard';
import { SERPER_KEY, startFakeSearch, TAVILY_KEY, type FakeSearch } from '../helpers/fake-search';

let fake: FakeSearch;
let guard: ConnectGuard;
const savedEnv = { SERPER_API_KEY: process.env.SERPER_API_KEY, TAVILY_API_KEY: process.env.TAVILY_API_KEY };

before(async () => {
  fake = await startFakeSearch();
  guard = installConnectGuard();
});
after(async () => {
  guard.uninstall();
  await fake.close();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
beforeEach(() => {
  process.env.SERPER_API_KEY = SERPER_KEY;
  process.env.TAVILY_API_KEY = TAVILY_KEY;
  fake.script([]);
  fake.requests.length = 0;
});
afterEach(() => assert.deepEqual(guard.blocked, [], 'no connection left 127.0.0.1'));

function kwargs(provider: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const urls: Record<string, Record<string, unknown>> = {
    serper: { serper_url: `${fake.url}/serper` },
    tavily: { tavily_url: `${fake.url}/tavily` },
    searxng: { searxng_url: `${fake.url}/searxng` },
    local: { local_site_url: `${fake.url}/local` },
  };
  return { search_provider: provider, ...urls[provider], allow_private_hosts: [fake.hostPort], ...extra };
}

function search(queries: string[], env: Record<string, unknown>) {
  return webSearchTool.execute({ queries }, { environment_kwargs: env });
}

function isFailure(type: string, retryable: boolean, check?: (f: ApplicationFailure) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(e)}`);
    assert.equal(e.type, type, e.message);
    assert.equal(e.nonRetryable, !retryable);
    check?.(e);
    return true;
  };
}

describe('web_search providers', () => {
  it('serper: keeps title, url and snippet per query; sends the key and {q, num}', async () => {
    const res = await search(['Ada Lovelace', 'Analytical Engine'], kwargs('serper'));
    assert.equal(res.error, undefined);
    assert.match(res.text, /^### Search results for "Ada Lovelace"\n1\. Result 1 for Ada Lovelace\n {3}URL: https:\/\/example\.test\/ada-lovelace\/1\n {3}Snippet 1 about Ada Lovelace\./);
    assert.match(res.text, /### Search results for "Analytical Engine"\n1\. Result 1 for Analytical Engine/);
    assert.equal((res.text.match(/^\d+\. /gm) ?? []).length, 10, 'default top_k 5 per query');
    assert.equal(res.sources?.length, 10);
    assert.ok(res.sources?.includes('https://example.test/analytical-engine/5'));
    const req = fake.requests.find((r) => r.query === 'Ada Lovelace')!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/serper/search');
    assert.equal(req.headers['x-api-key'], SERPER_KEY);
    assert.deepEqual(req.body, { q: 'Ada Lovelace', num: 5 });
  });

  it('serper: web_search_type picks the endpoint', async () => {
    await search(['news item'], kwargs('serper', { web_search_type: 'news' }));
    assert.equal(fake.requests[0]!.path, '/serper/news');
  });

  it('clamps web_search_top_k to 10', async () => {
    const res = await search(['many'], kwargs('serper', { web_search_top_k: 50 }));
    assert.deepEqual(fake.requests[0]!.body, { q: 'many', num: 10 });
    assert.equal(res.sources?.length, 10);
    const few = await search(['few'], kwargs('serper', { web_search_top_k: 2 }));
    assert.equal(few.sources?.length, 2);
  });

  it('tavily: Bearer key, {query, max_results}, results[].content as snippet', async () => {
    const res = await search(['Charles Babbage'], kwargs('tavily', { web_search_top_k: 3 }));
    assert.match(res.text, /1\. Result 1 for Charles Babbage\n {3}URL: https:\/\/example\.test\/charles-babbage\/1\n {3}Snippet 1 about Charles Babbage\./);
    assert.equal(res.sources?.length, 3);
    const req = fake.requests[0]!;
    assert.equal(req.path, '/tavily/search');
    assert.equal(req.headers.authorization, `Bearer ${TAVILY_KEY}`);
    assert.deepEqual(req.body, { query: 'Charles Babbage', max_results: 3 });
  });

  it('searxng: GET with format=json, sliced to top_k', async () => {
    const res = await search(['Jacquard loom'], kwargs('searxng'));
    assert.equal(res.sources?.length, 5);
    assert.match(res.text, /Result 5 for Jacquard loom/);
    assert.doesNotMatch(res.text, /Result 6 for/);
    assert.equal(fake.requests[0]!.method, 'GET');
    assert.match(fake.requests[0]!.path, /^\/searxng\/search\?q=Jacquard\+loom&format=json$/);
  });

  it('local: GET /search?q=…&k=…', async () => {
    const res = await search(['Besançon'], kwargs('local', { web_search_top_k: 4 }));
    assert.equal(res.sources?.length, 4);
    assert.match(res.text, /Result 1 for Besançon/);
    assert.match(fake.requests[0]!.path, /^\/local\/search\?q=Besan%C3%A7on&k=4$/);
  });

  it('no results for any query is an observation, not an error', async () => {
    const res = await search(['nothing here', 'nothing there'], kwargs('serper'));
    assert.equal(res.error, undefined);
    assert.match(res.text, /^No results found for "nothing here", "nothing there"/);
    assert.equal(res.sources, undefined);
  });

  it('lists failed queries after the results when others worked', async () => {
    fake.script([{ query: 'broken', status: 500 }]);
    const res = await search(['fine', 'broken'], kwargs('serper'));
    assert.equal(res.error, undefined);
    assert.match(res.text, /### Search results for "fine"[\s\S]*\n\n\*\*Failed queries:\*\*\n- "broken": HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/serper\/search/);
    assert.equal(res.sources?.length, 5);
  });

  it('runs queries concurrently up to web_search_max_workers', async () => {
    fake.script([{ delayMs: 150 }]);
    const started = Date.now();
    await search(['a1', 'a2', 'a3', 'a4'], kwargs('local', { web_search_max_workers: 4 }));
    const parallel = Date.now() - started;
    fake.requests.length = 0;
    const started2 = Date.now();
    await search(['b1', 'b2', 'b3', 'b4'], kwargs('local', { web_search_max_workers: 1 }));
    const serial = Date.now() - started2;
    assert.ok(serial >= 4 * 150, `serial took ${serial} ms`);
    assert.ok(parallel < serial, `parallel ${parallel} ms vs serial ${serial} ms`);
  });
});

describe('web_search failures', () => {
  it('429 with Retry-After → retryable RateLimited with nextRetryDelay', async () => {
    fake.script([{ prefix: '/serper', status: 429, headers: { 'retry-after': '7' } }]);
    await assert.rejects(search(['q'], kwargs('serper')), isFailure(FailureType.RateLimited, true, (f) => {
      assert.equal(f.nextRetryDelay, 7000);
      assert.match(f.message, /Serper search rate limited \(HTTP 429\)/);
    }));
    fake.script([{ prefix: '/tavily', status: 429, headers: { 'retry-after-ms': '250' } }]);
    await assert.rejects(search(['q'], kwargs('tavily')), isFailure(FailureType.RateLimited, true, (f) => assert.equal(f.nextRetryDelay, 250)));
  });

  it('5xx → retryable ToolBackendUnavailable', async () => {
    fake.script([{ status: 503 }]);
    await assert.rejects(search(['q'], kwargs('searxng')), isFailure(FailureType.ToolBackendUnavailable, true));
    assert.ok(!NON_RETRYABLE_TYPES.includes(FailureType.ToolBackendUnavailable as never));
  });

  it('a slow provider times out → retryable ToolBackendUnavailable', async () => {
    fake.script([{ delayMs: 5000 }]);
    const started = Date.now();
    await assert.rejects(search(['q'], kwargs('local', { web_search_timeout_seconds: 0.3 })), isFailure(FailureType.ToolBackendUnavailable, true, (f) => assert.match(f.message, /Timed out after 300 ms/)));
    assert.ok(Date.now() - started < 3000);
  });

  it('connection refused → retryable ToolBackendUnavailable', async () => {
    const dead = await startFakeSearch();
    const url = dead.url;
    await dead.close();
    await assert.rejects(
      search(['q'], { search_provider: 'local', local_site_url: `${url}/local`, allow_private_hosts: [new URL(url).host] }),
      isFailure(FailureType.ToolBackendUnavailable, true, (f) => assert.match(f.message, /ECONNREFUSED/)),
    );
  });

  it('401 → non-retryable ToolAuth naming the variable, never the key', async () => {
    process.env.SERPER_API_KEY = 'wrong-key-abcdef123456';
    await assert.rejects(search(['q'], kwargs('serper')), isFailure(FailureType.ToolAuth, false, (f) => {
      assert.match(f.message, /HTTP 401.*set SERPER_API_KEY/);
      assert.ok(!f.message.includes('wrong-key-abcdef123456'));
    }));
    process.env.TAVILY_API_KEY = 'tvly-wrong-abcdef123456';
    await assert.rejects(search(['q'], kwargs('tavily')), isFailure(FailureType.ToolAuth, false, (f) => {
      assert.match(f.message, /TAVILY_API_KEY/);
      assert.ok(!f.message.includes('tvly-wrong-abcdef123456'));
    }));
    assert.ok(NON_RETRYABLE_TYPES.includes(FailureType.ToolAuth as never));
  });

  it('a missing key → ToolAuth before any request', async () => {
    delete process.env.SERPER_API_KEY;
    await assert.rejects(search(['q'], kwargs('serper')), isFailure(FailureType.ToolAuth, false, (f) => assert.match(f.message, /set SERPER_API_KEY/)));
    // Default provider and URL (serper at google.serper.dev): still refused before any connection.
    await assert.rejects(search(['q'], {}), isFailure(FailureType.ToolAuth, false));
    delete process.env.TAVILY_API_KEY;
    await assert.rejects(search(['q'], kwargs('tavily')), isFailure(FailureType.ToolAuth, false, (f) => assert.match(f.message, /set TAVILY_API_KEY/)));
    assert.equal(fake.requests.length, 0);
    assert.deepEqual(guard.attempts.filter((a) => !a.startsWith('127.0.0.1')), []);
  });

  it('missing searxng_url / local_site_url → InvalidInput naming the key', async () => {
    await assert.rejects(search(['q'], { search_provider: 'searxng' }), isFailure(FailureType.InvalidInput, false, (f) => assert.match(f.message, /environment_kwargs\.searxng_url/)));
    await assert.rejects(search(['q'], { search_provider: 'local' }), isFailure(FailureType.InvalidInput, false, (f) => assert.match(f.message, /environment_kwargs\.local_site_url/)));
    await assert.rejects(search(['q'], { search_provider: 'bing' }), isFailure(FailureType.InvalidInput, false, (f) => assert.match(f.message, /serper, tavily, searxng, local/)));
  });

  it('a private provider URL not in allow_private_hosts → InvalidInput saying how to allow it', async () => {
    await assert.rejects(
      search(['q'], { search_provider: 'local', local_site_url: `${fake.url}/local` }),
      isFailure(FailureType.InvalidInput, false, (f) => assert.match(f.message, /local_site_url.*127\.0\.0\.1 a loopback address; allow it with environment_kwargs\.allow_private_hosts/)),
    );
    assert.equal(fake.requests.length, 0);
  });

  it('other 4xx for every query → an error observation the agent sees', async () => {
    fake.script([{ status: 400, body: '{"message":"Query too long"}' }]);
    const res = await search(['q'], kwargs('serper'));
    assert.equal(res.error, true);
    assert.match(res.text, /\*\*Failed queries:\*\*\n- "q": HTTP 400/);
  });
});

describe('web_search: providers that answer HTML, text or a refusal that is not about credentials', () => {
  // What Flask (SearXNG's web framework) answers to format=json when `json` is not in search.formats.
  const FLASK_403 = '<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n<p>You don&#39;t have the permission to access the requested resource.</p>\n';
  const HTML = { 'content-type': 'text/html; charset=utf-8' };

  it('SearXNG 403 with an HTML page → non-retryable ToolMisconfigured saying how to enable the JSON API', async () => {
    fake.script([{ prefix: '/searxng', status: 403, body: FLASK_403, headers: HTML }]);
    await assert.rejects(search(['q1', 'q2'], kwargs('searxng')), isFailure(FailureType.ToolMisconfigured, false, (f) => {
      assert.equal(
        f.message,
        `SearXNG at ${fake.url}/searxng refused the JSON API (HTTP 403, HTML page, title "403 Forbidden"): ` +
          'enable it by adding `json` to `search.formats` in its settings.yml, then restart SearXNG',
      );
      assert.doesNotMatch(f.message, /credential/i);
    }));
    assert.equal(fake.requests.length, 2, 'one request per query, no retry inside the activity');
    assert.ok(NON_RETRYABLE_TYPES.includes(FailureType.ToolMisconfigured as never));
  });

  it('SearXNG 403 as plain text, and a 200 HTML page instead of JSON, get the same fix', async () => {
    fake.script([{ prefix: '/searxng', status: 403, body: 'Forbidden', headers: { 'content-type': 'text/plain' } }]);
    await assert.rejects(search(['q'], kwargs('searxng')), isFailure(FailureType.ToolMisconfigured, false, (f) =>
      assert.match(f.message, /^SearXNG at \S+ refused the JSON API \(HTTP 403, plain text\): enable it by adding `json` to `search\.formats`/),
    ));
    fake.script([{ prefix: '/searxng', status: 200, body: '<!DOCTYPE html><html><head><title>SearXNG</title></head><body>results</body></html>', headers: HTML }]);
    await assert.rejects(search(['q'], kwargs('searxng')), isFailure(FailureType.ToolMisconfigured, false, (f) =>
      assert.match(f.message, /^SearXNG at \S+ answered an HTML page, title "SearXNG" \(HTTP 200\) where its JSON API was expected: enable it by adding `json`/),
    ));
  });

  it('a keyed provider answering a website (HTML, HTTP 200) → ToolMisconfigured naming its URL key', async () => {
    fake.script([{ prefix: '/serper', status: 200, body: '<html><head><title>Example Domain</title></head><body><p>hi</p></body></html>', headers: HTML }]);
    await assert.rejects(search(['q'], kwargs('serper')), isFailure(FailureType.ToolMisconfigured, false, (f) => {
      assert.match(f.message, new RegExp(`^Serper search at ${fake.url}/serper answered an HTML page, title "Example Domain" \\(HTTP 200\\) where its JSON API was expected: check environment_kwargs\\.serper_url`));
      assert.ok(!f.message.includes(SERPER_KEY));
    }));
    fake.script([{ prefix: '/tavily', status: 405, body: '<html><body><h1>405 Not Allowed</h1></body></html>', headers: HTML }]);
    await assert.rejects(search(['q'], kwargs('tavily')), isFailure(FailureType.ToolMisconfigured, false, (f) => assert.match(f.message, /HTTP 405\) where its JSON API was expected: check environment_kwargs\.tavily_url/)));
  });

  it('401/403 from keyed providers stay ToolAuth naming the key variable, even with an HTML page', async () => {
    fake.script([{ prefix: '/serper', status: 403, body: FLASK_403, headers: HTML }]);
    await assert.rejects(search(['q'], kwargs('serper')), isFailure(FailureType.ToolAuth, false, (f) => assert.match(f.message, /HTTP 403.*set SERPER_API_KEY/)));
  });

  it('a 401 from a provider that takes no key (local) → ToolMisconfigured naming local_site_url', async () => {
    fake.script([{ prefix: '/local', status: 401, body: '{"error":"login required"}' }]);
    await assert.rejects(search(['q'], kwargs('local')), isFailure(FailureType.ToolMisconfigured, false, (f) =>
      assert.match(f.message, /^Local site search at \S+\/local refused the JSON API \(HTTP 401, JSON\): check environment_kwargs\.local_site_url/),
    ));
  });

  it('an HTML 502 from a proxy stays retryable; invalid JSON under application/json stays retryable', async () => {
    fake.script([{ prefix: '/searxng', status: 502, body: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>', headers: HTML }]);
    await assert.rejects(search(['q'], kwargs('searxng')), isFailure(FailureType.ToolBackendUnavailable, true));
    fake.script([{ prefix: '/serper', status: 200, body: '{"organic": [' }]);
    await assert.rejects(search(['q'], kwargs('serper')), isFailure(FailureType.ToolBackendUnavailable, true, (f) => assert.match(f.message, /invalid JSON/)));
  });
});

describe('web_search through the registry', () => {
  it('accepts a bare string and passes sources into the observation', async () => {
    const obs = await executeTool('web_search', { queries: 'Ada Lovelace' }, { environment_kwargs: kwargs('local', { web_search_top_k: 2 }) });
    assert.equal(obs.error, undefined);
    assert.deepEqual(obs.sources, ['https://example.test/ada-lovelace/1', 'https://example.test/ada-lovelace/2']);
  });

  it('rejects more than 5 queries as invalid arguments', async () => {
    const obs = await executeTool('web_search', { queries: ['1', '2', '3', '4', '5', '6'] }, { environment_kwargs: kwargs('local') });
    assert.equal(obs.error, true);
    assert.match(obs.text, /queries: expected at most 5 item\(s\)/);
  });
});
