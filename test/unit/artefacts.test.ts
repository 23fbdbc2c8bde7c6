/**
 * After-the-run artefacts on a hand-made run folder (test/helpers/run-fixture.ts): the SFT validator, the
 * records of each export format on edge cases (failed seed, old result file, lost trajectory, negatives), the tree
 * layout, `show`, and the report's escaping. The real-run and browser tests are in test/e2e/artefacts*.test.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateSftRecord, type SftRecord } from '../../src/export/records';
import { exportRun, FIELD_DOCS, PARQUET_COLUMNS } from '../../src/export/export';
import { layoutTree } from '../../src/report/tree-layout';
import { escapeHtml, writeReport } from '../../src/report/report';
import { showText, terminalSafe, treeText } from '../../src/report/show';
import { sourceIdOf } from '../../src/report/run-data';
import { AGENT_SYSTEM_PROMPT } from '../../src/domain/prompts';
import { writeRunFixture } from '../helpers/run-fixture';
import { readParquetRows } from '../helpers/parquet-read';

let dir: string;
let runDir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-artefacts-unit-'));
  runDir = writeRunFixture(dir);
});

const lines = <T>(file: string): T[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

function validRecord(): SftRecord {
  return {
    messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'q?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'calculator', arguments: '{"expressions":["1+1"]}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '2' },
      { role: 'assistant', content: '2' },
    ],
    tools: [{ type: 'function', function: { name: 'calculator', description: 'd', parameters: { type: 'object' } } }],
    parallel_tool_calls: false,
  };
}

describe('SFT validator (OpenAI chat fine-tuning format)', () => {
  test('accepts a well-formed record', () => {
    assert.deepEqual(validateSftRecord(validRecord()), []);
  });
  test('rejects an unanswered tool call, bad arguments, roles out of order, empty content, unknown keys', () => {
    const unanswered = validRecord();
    unanswered.messages.splice(3, 1);
    assert.ok(validateSftRecord(unanswered).some((p) => /call_1/.test(p)), 'unanswered tool_call_id');

    const badArgs = validRecord();
    (badArgs.messages[2] as { tool_calls: { function: { arguments: string } }[] }).tool_calls[0]!.function.arguments = '{"expressions": [';
    assert.ok(validateSftRecord(badArgs).some((p) => /arguments: not valid JSON/.test(p)));

    const order = validRecord();
    [order.messages[0], order.messages[1]] = [order.messages[1]!, order.messages[0]!];
    assert.ok(validateSftRecord(order).some((p) => /system message must come first/.test(p)));

    const empty = validRecord();
    (empty.messages[4] as { content: string }).content = '';
    assert.ok(validateSftRecord(empty).some((p) => /needs non-empty content|must end with an assistant answer/.test(p)));

    const emptyTool = validRecord();
    (emptyTool.messages[3] as { content: string }).content = '';
    assert.ok(validateSftRecord(emptyTool).some((p) => /messages\[3\]\.content/.test(p)));

    const wrongTool = validRecord();
    (wrongTool.messages[2] as { tool_calls: { function: { name: string } }[] }).tool_calls[0]!.function.name = 'web_search';
    assert.ok(validateSftRecord(wrongTool).some((p) => /not one of the record's tools/.test(p)));

    const extra = { ...validRecord(), colour: 'blue' };
    assert.ok(validateSftRecord(extra).some((p) => /colour: not a key/.test(p)));

    const endsWithCall = validRecord();
    endsWithCall.messages.pop();
    assert.ok(validateSftRecord(endsWithCall).some((p) => /must end with an assistant answer/.test(p)));
  });
});

describe('export of a hand-made run (edge cases)', () => {
  test('sft: kept records valid, full observations from trajectories, evidence excerpts for a lost trajectory; negatives with reasons', async () => {
    const r = await exportRun({ run: runDir, format: 'sft', includeRejected: true });
    assert.equal(r.records, 3);
    assert.equal(r.negatives, 2);
    assert.equal(r.excerpt_only, 0 + 1, 'the QA whose trajectory is lost');
    assert.equal(r.no_steps, 0);
    const recs = lines<SftRecord>(r.file);
    assert.equal(recs.length, 3);
    for (const rec of recs) assert.deepEqual(validateSftRecord(rec), []);
    for (const rec of recs) assert.deepEqual(Object.keys(rec).sort(), ['messages', 'parallel_tool_calls', 'tools']);
    // The old result file's QA (no evidence): steps from its trajectory; its empty observation became "(no output)".
    const old = recs[0]!;
    assert.equal(old.messages[0]!.role, 'system');
    assert.equal((old.messages[0] as { content: string }).content, AGENT_SYSTEM_PROMPT);
    assert.equal((old.messages[1] as { content: string }).content, 'In which year did the old thing happen?');
    assert.deepEqual(old.messages.map((m) => m.role), ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']);
    assert.equal((old.messages[3] as { content: string }).content, 'Old page one says 1987.');
    assert.equal((old.messages[5] as { content: string }).content, '(no output)');
    assert.equal((old.messages[6] as { content: string }).content, '1987');
    // Tools: the web mode's, as the registry offers them.
    assert.deepEqual(old.tools.map((t) => t.function.name), ['web_search', 'web_visit']);
    assert.equal(old.tools[0]!.function.parameters.type, 'object');
    // The whole-tree QA: tool_call ids from node ids, arguments = the node's parameters.
    const tree = recs[1]!;
    const call = (tree.messages[4] as { tool_calls: { id: string; function: { name: string; arguments: string } }[] }).tool_calls[0]!;
    assert.equal(call.id, 'call_d2_t2_b0');
    assert.equal(call.function.name, 'web_visit');
    assert.deepEqual(JSON.parse(call.function.arguments), { url: 'http://127.0.0.1/ada/bio', goal: 'birthplace' });
    // Lost trajectory: one step from evidence, no intent (content null).
    const lost = recs[2]!;
    assert.equal(lost.messages.length, 5);
    assert.equal((lost.messages[2] as { content: string | null }).content, null);
    // Negatives file: same shape + qa_id + rejection.
    const neg = lines<SftRecord & { qa_id: string; rejection: { stage: string; reason: string; duplicate_of?: string } }>(r.negatives_file!);
    assert.deepEqual(neg.map((n) => [n.rejection.stage, n.rejection.reason, n.rejection.duplicate_of ?? null]), [
      ['dedup', 'near_duplicate', 'src_tree_traj_0_qa_0'],
      ['grounding', 'ungrounded', null],
    ]);
    for (const n of neg) assert.deepEqual(validateSftRecord(n), []);
    // dataset_info.json documents every key the records have.
    const info = JSON.parse(fs.readFileSync(r.dataset_info_file, 'utf8'));
    const documented = new Set(info.fields.map((f: { name: string }) => f.name));
    for (const k of [...Object.keys(recs[0]!), ...Object.keys(neg[0]!)]) assert.ok(documented.has(k), `field ${k} documented`);
    assert.equal(info.records, 3);
    assert.equal(info.negatives, 2);
    const card = fs.readFileSync(r.card_file, 'utf8');
    for (const f of FIELD_DOCS.sft) assert.ok(card.includes(`\`${f.name}\``), `card documents ${f.name}`);
  });

  test('without --include-rejected nothing negative is written', async () => {
    const out = path.join(dir, 'plain.jsonl');
    const r = await exportRun({ run: runDir, format: 'sft', out });
    assert.equal(r.negatives, 0);
    assert.equal(r.negatives_file, null);
    assert.equal(fs.existsSync(path.join(dir, 'plain.rejected.jsonl')), false);
  });

  test('sharegpt: LLaMA-Factory turns (system, human, function_call/observation pairs, gpt), kto_tag for negatives', async () => {
    const r = await exportRun({ run: runDir, format: 'sharegpt', includeRejected: true });
    const recs = lines<{ id: string; conversations: { from: string; value: string }[]; tools: string; kto_tag: boolean; rejection?: { reason: string } }>(r.file);
    assert.equal(recs.length, 5);
    assert.deepEqual(recs.map((x) => x.kto_tag), [true, true, true, false, false]);
    assert.equal(recs[3]!.rejection?.reason, 'near_duplicate');
    for (const rec of recs) {
      const from = rec.conversations.map((c) => c.from);
      assert.equal(from[0], 'system');
      assert.equal(from[1], 'human');
      assert.equal(from.at(-1), 'gpt');
      // After the system turn, odd positions are human/observation, even ones gpt/function_call (LLaMA-Factory's rule).
      from.slice(1).forEach((f, i) => assert.ok(i % 2 === 0 ? ['human', 'observation'].includes(f) : ['gpt', 'function_call'].includes(f), `${rec.id} turn ${i + 1}: ${f}`));
      for (const c of rec.conversations.filter((x) => x.from === 'function_call')) {
        const v = JSON.parse(c.value);
        assert.equal(typeof v.name, 'string');
        assert.equal(typeof v.arguments, 'object');
      }
      assert.deepEqual(JSON.parse(rec.tools).map((t: { name: string }) => t.name), ['web_search', 'web_visit']);
    }
    const info = JSON.parse(fs.readFileSync(r.dataset_info_file, 'utf8'));
    assert.equal(info.llamafactory[info.name].formatting, 'sharegpt');
    assert.equal(info.llamafactory[info.name].columns.kto_tag, 'kto_tag');
  });

  test('parquet: read back by an independent reader (parquet-wasm / arrow-rs) equals the SFT JSONL, nulls kept', async () => {
    const sft = await exportRun({ run: runDir, format: 'sft', includeRejected: true, out: path.join(dir, 'p.sft.jsonl') });
    const pq = await exportRun({ run: runDir, format: 'parquet', includeRejected: true, out: path.join(dir, 'p.parquet') });
    assert.equal(pq.records, 3);
    assert.equal(pq.negatives, 2);
    const rows = readParquetRows(pq.file);
    assert.deepEqual(Object.keys(rows[0]!), PARQUET_COLUMNS.map((c) => c.name));
    const expected = [...lines<SftRecord>(sft.file), ...lines<SftRecord>(sft.negatives_file!)];
    assert.equal(rows.length, expected.length);
    rows.forEach((row, i) => {
      assert.deepEqual(JSON.parse(row.messages as string), expected[i]!.messages);
      assert.deepEqual(JSON.parse(row.tools as string), expected[i]!.tools);
    });
    assert.deepEqual(rows.map((x) => x.label), ['kept', 'kept', 'kept', 'rejected', 'rejected']);
    assert.deepEqual(rows.map((x) => x.step_source), ['trajectory', 'trajectory', 'evidence', 'trajectory', 'trajectory']);
    assert.deepEqual(rows.map((x) => x.grounding_method), [null, 'exact', null, 'exact', 'exact']);
    assert.deepEqual(rows.map((x) => x.duplicate_of), [null, null, null, 'src_tree_traj_0_qa_0', null]);
    assert.deepEqual(rows.map((x) => x.tool_calls), [2, 2, 1, 2, 2]);
    assert.deepEqual(JSON.parse(rows[1]!.sources as string), ['http://127.0.0.1/ada', 'http://127.0.0.1/ada/bio']);
  });

  test('a folder that is not a run is a clear error', async () => {
    await assert.rejects(exportRun({ run: path.join(dir, 'nope'), format: 'sft' }), /neither a run folder .* nor a run id/);
    await assert.rejects(exportRun({ run: runDir, format: 'xml' as 'sft' }), /--format: expected one of sft, sharegpt, parquet, got "xml"/);
  });
});

describe('tree layout', () => {
  test('leaves in depth-first columns, parents centred over their children, depth as row', () => {
    const n = (id: string, parent: string | null, depth: number) => ({ node_id: id, parent_id: parent, depth, tool_name: 't', intent: '', outcome: 'ok' as const });
    const l = layoutTree([n('r', null, 0), n('a', 'r', 1), n('b', 'r', 1), n('a1', 'a', 2), n('a2', 'a', 2), n('b1', 'b', 2)]);
    const at = Object.fromEntries(l.nodes.map((x) => [x.node_id, [x.x, x.y]]));
    assert.deepEqual(at, { r: [1.25, 0], a: [0.5, 1], b: [2, 1], a1: [0, 2], a2: [1, 2], b1: [2, 2] });
    assert.equal(l.width, 3);
    assert.equal(l.height, 3);
    assert.equal(l.edges.length, 5);
    // A node whose parent is missing is drawn as another root.
    assert.equal(layoutTree([n('x', 'gone', 1), n('y', 'x', 2)]).nodes.find((p) => p.node_id === 'x')!.y, 0);
  });
});

describe('show and report on the hand-made run', () => {
  test('show <run> lists every seed with its status; show <qa_id> its trajectory; show <source_id> its tree', async () => {
    const all = await showText({ run: runDir });
    for (const s of ['src_failed  failed', 'src_old  succeeded', 'src_tree  succeeded', 'src_missing  missing']) assert.ok(all.includes(s), `${s} in\n${all}`);
    const one = await showText({ run: runDir, id: 'src_tree_traj_0_qa_0' });
    assert.match(one, /answer {4}London/);
    assert.match(one, /1\. d1_t1_b0 {2}web_search \{"query":"q d1_t1_b0"\}/);
    assert.match(one, /2\. d2_t2_b0 {2}web_visit/);
    assert.match(one, /→ The page says she was born in London\./);
    assert.match(one, /grounded: exact at d2_t2_b0/);
    assert.match(one, /^ {2}http:\/\/127\.0\.0\.1\/ada\/bio$/m);
    const seed = await showText({ run: runDir, id: 'src_tree' });
    assert.match(seed, /\[not kept: dedup: near_duplicate\]/);
    assert.match(seed, /^ {2}\* d0_t0_b0 root \[ok\]/m);
    assert.match(seed, /^ {2}\* {5}d2_t2_b0 web_visit \[ok\]/m);
    assert.match(seed, /^ {8}d2_t3_b1 web_visit \[error\]/m);
    assert.match(seed, /^ {6}d1_t4_b1 web_search \[refused\]/m);
    const failed = await showText({ run: runDir, id: 'src_failed' });
    assert.match(failed, /error LlmAuth: LLM endpoint refused/);
    assert.match(failed, /\(no tree recorded\)/);
    const old = await showText({ run: runDir, id: 'src_old' });
    assert.match(old, /selected paths only/);
    await assert.rejects(showText({ run: runDir, id: 'nope' }), /neither a qa_id nor a source_id of run edge/);
  });

  test('show <rejected qa_id> says why it was not kept; ids name their seed', async () => {
    const text = await showText({ run: runDir, id: 'src_tree_traj_0_qa_2' });
    assert.match(text, /^QA src_tree_traj_0_qa_2 {2}\(NOT KEPT — dedup: near_duplicate, duplicate of src_tree_traj_0_qa_0\)$/m);
    assert.equal(sourceIdOf('src_ab12_traj_3_qa_10'), 'src_ab12');
    assert.equal(sourceIdOf('src_ab12_traj_3'), 'src_ab12');
    assert.equal(sourceIdOf('src_ab12'), 'src_ab12');
  });

  test('report: a funnel that disagrees with the QA file is flagged', async () => {
    const copy = path.join(dir, 'mismatch');
    fs.cpSync(runDir, path.join(copy, 'edge'), { recursive: true });
    const statsFile = path.join(copy, 'edge', 'statistics_web_20260101_000000.json');
    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    const good = await writeReport({ run: path.join(copy, 'edge'), out: path.join(dir, 'good.html') });
    assert.equal(fs.readFileSync(good.file, 'utf8').includes('funnel-mismatch'), false);
    stats.funnel.qa_kept = 4;
    fs.writeFileSync(statsFile, JSON.stringify(stats));
    const bad = await writeReport({ run: path.join(copy, 'edge'), out: path.join(dir, 'bad.html') });
    assert.match(fs.readFileSync(bad.file, 'utf8'), /id="funnel-mismatch">The funnel says 4 QA kept, but the QA file has 3/);
    // A run that has not written its outputs yet: seed results only, QA from them.
    for (const f of fs.readdirSync(path.join(copy, 'edge'))) if (/^(statistics|synthesized_qa|trajectories)_/.test(f)) fs.rmSync(path.join(copy, 'edge', f));
    const early = fs.readFileSync((await writeReport({ run: path.join(copy, 'edge'), out: path.join(dir, 'early.html') })).file, 'utf8');
    assert.match(early, /No statistics file yet/);
    assert.match(early, /id="funnel-absent"/);
    assert.match(early, /id="qa-kept">3</, 'the QA of the seed results');
  });

  test('terminal output neutralises escape sequences', () => {
    assert.equal(terminalSafe('a\u001b[31mred\u0007'), 'a\\x1b[31mred\\x07');
    assert.deepEqual(treeText([], new Set()), []);
  });

  test('report: every untrusted value escaped; no script but the filter', async () => {
    const r = await writeReport({ run: runDir, out: path.join(dir, 'report.html') });
    const html = fs.readFileSync(r.file, 'utf8');
    assert.equal(html.includes('<script>alert(1)</script>'), false);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('a whole tree with &lt;b&gt;errors&lt;/b&gt;'));
    assert.equal(html.match(/<script/g)!.length, 1);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.equal(escapeHtml(`<a href="x" onclick='y'>&`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
  });
});
