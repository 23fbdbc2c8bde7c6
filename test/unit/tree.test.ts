import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChooseActionResult, Observation, ToolAction } from '../../src/shared/types';
import {
  actionTemperature,
  expectedTreeSize,
  reasonKey,
  sampleTree,
  type ChooseActionRequest,
  type TreeSamplerDeps,
} from '../../src/domain/tree';

const usage = { input_tokens: 10, output_tokens: 2 };

function cfg(max_depth: number, branching_factor: number, depth_threshold: number, max_retries = 3) {
  return { max_depth, branching_factor, depth_threshold, max_retries, seed_description: '' };
}

/** Fake deps: every action succeeds unless `fail(req)` returns a reason. Records every request. */
function fakeDeps(fail?: (req: ChooseActionRequest) => string | null) {
  const requests: ChooseActionRequest[] = [];
  const toolRuns: { action: ToolAction; node: { depth: number; branch: number } }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const deps: TreeSamplerDeps = {
    async chooseAction(req): Promise<ChooseActionResult> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      requests.push({ ...req, history: [...req.history], current: { ...req.current } });
      await new Promise((r) => setImmediate(r));
      inFlight--;
      const reason = fail?.(req) ?? null;
      if (reason) return { ok: false, reason, usage };
      return {
        ok: true,
        intent: `from ${req.current.node_id} b${req.branch}`,
        action: { tool_name: 'calculator', parameters: { expressions: [`${req.current.node_id}/${req.branch}`] } },
        usage,
      };
    },
    async runTool(action, node): Promise<Observation> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      toolRuns.push({ action, node });
      await new Promise((r) => setImmediate(r));
      inFlight--;
      const expr = String((action.parameters.expressions as string[])[0]);
      return { text: `obs ${expr}`, error: expr.endsWith('/1') ? true : undefined };
    },
  };
  return { deps, requests, toolRuns, maxInFlight: () => maxInFlight };
}

test('expectedTreeSize matches the spec', () => {
  assert.deepEqual(expectedTreeSize(10, 2, 2), { nodes: 38, leaves: 4 });
  assert.deepEqual(expectedTreeSize(5, 2, 3), { nodes: 30, leaves: 8 });
  assert.deepEqual(expectedTreeSize(3, 2, 2), { nodes: 10, leaves: 4 });
  assert.deepEqual(expectedTreeSize(4, 3, 10), { nodes: 3 + 9 + 27 + 81, leaves: 81 });
});

for (const [D, b, t, nodes, leaves] of [
  [10, 2, 2, 38, 4],
  [5, 2, 3, 30, 8],
  [3, 2, 2, 10, 4],
] as const) {
  test(`sampleTree D=${D} b=${b} t=${t}: ${nodes} nodes, ${leaves} leaves`, async () => {
    const f = fakeDeps();
    const tree = await sampleTree({ config: cfg(D, b, t), seedText: 'seed', sourceId: 'src_x', deps: f.deps });
    assert.equal(tree.nodes.length, nodes + 1);
    const leafNodes = tree.nodes.filter((n) => n.children_ids.length === 0);
    assert.equal(leafNodes.length, leaves);
    assert.ok(leafNodes.every((n) => n.depth === D));
    assert.equal(tree.llm_calls, nodes);
    assert.equal(tree.llm_failed_outputs, 0);
    assert.equal(tree.input_tokens, nodes * 10);
    assert.equal(tree.output_tokens, nodes * 2);
    assert.deepEqual(tree.tool_calls, { calculator: nodes });
    assert.deepEqual(tree.skipped_branches, {});
    assert.equal(f.maxInFlight(), 1, 'effects must run one at a time');
  });
}

test('sampleTree is depth-first with the original node ids', async () => {
  const f = fakeDeps();
  const seen: string[] = [];
  f.deps.onNode = (n, total) => seen.push(`${n.node_id}#${total}`);
  const tree = await sampleTree({ config: cfg(3, 2, 2), seedText: 'Pythagoras', sourceId: 'src_x', deps: f.deps });
  assert.deepEqual(
    tree.nodes.map((n) => n.node_id),
    ['d0_t0_b0', 'd1_t1_b0', 'd2_t2_b0', 'd3_t3_b0', 'd2_t4_b1', 'd3_t5_b0', 'd1_t6_b1', 'd2_t7_b0', 'd3_t8_b0', 'd2_t9_b1', 'd3_t10_b0'],
  );
  assert.deepEqual(seen, tree.nodes.map((n, i) => `${n.node_id}#${i + 1}`));
  const root = tree.nodes[0]!;
  assert.deepEqual(
    { intent: root.intent, observation: root.observation, action: root.action, parent_id: root.parent_id, depth: root.depth },
    { intent: 'Start exploration', observation: 'Starting point: Pythagoras', action: null, parent_id: null, depth: 0 },
  );
  assert.deepEqual(root.children_ids, ['d1_t1_b0', 'd1_t6_b1']);
  const d1 = tree.nodes[1]!;
  assert.deepEqual(d1.children_ids, ['d2_t2_b0', 'd2_t4_b1']);
  assert.equal(d1.parent_id, 'd0_t0_b0');
  assert.equal(d1.intent, 'from d0_t0_b0 b0');
  assert.equal(d1.observation, 'obs d0_t0_b0/0');
  assert.equal(d1.is_error, false);
  assert.equal(tree.nodes[6]!.is_error, true); // d1_t6_b1: the fake flags branch 1 as an error
  assert.deepEqual(tree.tool_errors, { calculator: 3 }); // branch-1 children of d0, d1_t1_b0, d1_t6_b1
});

test('sampleTree passes history (root and current excluded), temperature and a sampling seed', async () => {
  const f = fakeDeps();
  await sampleTree({ config: { ...cfg(3, 2, 2), seed_description: 'math topic' }, seedText: 'S', sourceId: 'src_x', deps: f.deps });
  const first = f.requests[0]!;
  assert.equal(first.current.node_id, 'd0_t0_b0');
  assert.equal(first.current.observation, 'Starting point (math topic): S');
  assert.deepEqual(first.history, []);
  assert.equal(first.temperature, 0.7);
  // request that created d3_t3_b0: current d2_t2_b0, history = [d1_t1_b0]
  const r = f.requests.find((q) => q.current.node_id === 'd2_t2_b0')!;
  assert.deepEqual(r.history, [
    { intent: 'from d0_t0_b0 b0', tool_name: 'calculator', parameters: { expressions: ['d0_t0_b0/0'] }, observation: 'obs d0_t0_b0/0' },
  ]);
  const seeds = new Set(f.requests.map((q) => q.samplingSeed));
  assert.equal(seeds.size, f.requests.length, 'every call gets its own sampling seed');
});

test('a branch whose attempts all fail is skipped, its reason recorded, its subtree pruned', async () => {
  const f = fakeDeps((req) => (req.current.node_id === 'd0_t0_b0' && req.branch === 1 ? 'invalid_json: Unexpected token' : null));
  const tree = await sampleTree({ config: cfg(3, 2, 2), seedText: 's', sourceId: 'src_x', deps: f.deps });
  const attempts = f.requests.filter((q) => q.current.node_id === 'd0_t0_b0' && q.branch === 1);
  assert.deepEqual(attempts.map((q) => q.temperature), [0.7, 0.8, 0.9]);
  assert.deepEqual(attempts.map((q) => q.attempt), [0, 1, 2]);
  assert.deepEqual(tree.skipped_branches, { invalid_json: 1 });
  assert.deepEqual(tree.failed_output_reasons, { invalid_json: 3 });
  assert.equal(tree.nodes.length, 1 + 5);
  assert.deepEqual(tree.nodes[0]!.children_ids, ['d1_t1_b0']);
  assert.equal(tree.llm_calls, 5 + 3);
  assert.equal(tree.llm_failed_outputs, 3);
});

test('a failed attempt followed by a valid one keeps the branch', async () => {
  const f = fakeDeps((req) => (req.attempt === 0 && req.current.node_id === 'd1_t1_b0' ? 'unknown_tool: foo' : null));
  const tree = await sampleTree({ config: cfg(2, 1, 1), seedText: 's', sourceId: 'src_x', deps: f.deps });
  assert.equal(tree.nodes.length, 3);
  assert.equal(tree.llm_failed_outputs, 1);
  assert.deepEqual(tree.skipped_branches, {});
  assert.deepEqual(
    f.requests.map((q) => [q.current.node_id, q.attempt, q.temperature]),
    [['d0_t0_b0', 0, 0.7], ['d1_t1_b0', 0, 0.7], ['d1_t1_b0', 1, 0.8]],
  );
});

test('when every action fails the tree is the root alone', async () => {
  const f = fakeDeps(() => 'missing_argument: calculator.expressions');
  const tree = await sampleTree({ config: cfg(3, 2, 2, 2), seedText: 's', sourceId: 'src_x', deps: f.deps });
  assert.equal(tree.nodes.length, 1);
  assert.deepEqual(tree.skipped_branches, { missing_argument: 2 });
  assert.equal(tree.llm_calls, 4);
});

test('exceptions from deps propagate', async () => {
  const deps: TreeSamplerDeps = {
    chooseAction: async () => {
      throw new Error('401 unauthorized');
    },
    runTool: async () => ({ text: '' }),
  };
  await assert.rejects(sampleTree({ config: cfg(2, 2, 2), seedText: 's', sourceId: 'x', deps }), /401/);
});

test('actionTemperature rounds to one decimal; reasonKey keeps the part before the colon', () => {
  assert.deepEqual([0, 1, 2, 3, 9].map(actionTemperature), [0.7, 0.8, 0.9, 1, 1.6]);
  assert.equal(reasonKey('unknown_tool: foo (valid tools: a)'), 'unknown_tool');
  assert.equal(reasonKey('no_tool_call'), 'no_tool_call');
  assert.equal(reasonKey(''), 'unknown');
});

test('a repeated action in the same seed is refused with an observation, not executed again', async () => {
  const toolRuns: ToolAction[] = [];
  const seen: string[][] = [];
  const deps: TreeSamplerDeps = {
    async chooseAction(req): Promise<ChooseActionResult> {
      seen.push(req.executedActions);
      // Branch 0 always proposes the same call; branch 1 proposes a fresh one per node.
      const expressions = req.branch === 0 ? ['1 + 1'] : [`${req.current.node_id} * 2`];
      return { ok: true, intent: 'again', action: { tool_name: 'calculator', parameters: { expressions } }, usage };
    },
    async runTool(action): Promise<Observation> {
      toolRuns.push(action);
      return { text: 'ran', sources: ['doc-1'] };
    },
  };
  const tree = await sampleTree({ config: cfg(3, 2, 2), seedText: 's', sourceId: 'src_x', deps });
  assert.equal(tree.nodes.length - 1, expectedTreeSize(3, 2, 2).nodes, 'the tree keeps its shape');
  const ones = toolRuns.filter((a) => (a.parameters.expressions as string[])[0] === '1 + 1');
  assert.equal(ones.length, 1, '"1 + 1" ran once');
  const refused = tree.nodes.filter((n) => n.observation.startsWith('[Refused] calculator'));
  assert.equal(refused.length, tree.duplicate_actions);
  assert.ok(tree.duplicate_actions >= 3);
  assert.ok(refused.every((n) => n.is_error === true && n.observation.includes('d1_t1_b0')));
  assert.equal(tree.tool_calls.calculator, toolRuns.length);
  assert.equal(toolRuns.length + tree.duplicate_actions, tree.nodes.length - 1);
  // The model is told what already ran (signature: tool + canonical JSON).
  assert.deepEqual(seen[0], []);
  assert.ok(seen[1].includes('calculator {"expressions":["1 + 1"]}'));
  // Sources of observations are kept on the nodes.
  assert.deepEqual(tree.nodes[1].sources, ['doc-1']);
});

/**
 * Deps whose effects complete in rounds: every call made in a round resolves together when `tick()` runs, like
 * calls of equal latency. The number of rounds until the tree is done is its elapsed time in call latencies.
 */
function roundDeps(opts: { sameAction?: boolean } = {}) {
  let pending: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const wait = () =>
    new Promise<void>((resolve) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      pending.push(() => {
        inFlight--;
        resolve();
      });
    });
  const deps: TreeSamplerDeps = {
    async chooseAction(req) {
      await wait();
      const expr = opts.sameAction && req.current.depth === 1 ? 'same' : `${req.current.node_id}/${req.branch}`;
      return { ok: true, intent: 'i', action: { tool_name: 'calculator', parameters: { expressions: [expr] } }, usage };
    },
    async runTool(action) {
      await wait();
      return { text: `obs ${JSON.stringify(action.parameters)}` };
    },
  };
  /** Runs rounds until `done` settles; returns the number of rounds. */
  async function drive(done: Promise<unknown>): Promise<number> {
    let finished = false;
    void done.then(() => (finished = true));
    let rounds = 0;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (finished) return rounds;
      const batch = pending;
      pending = [];
      assert.ok(batch.length > 0, 'no call pending but the tree is not done');
      rounds += 1;
      for (const resolve of batch) resolve();
    }
  }
  return { deps, drive, maxInFlight: () => maxInFlight };
}

test('explore_concurrency 4: a D=10 b=2 t=2 tree (38 nodes) takes its critical path, not 38 node latencies', async () => {
  const serial = roundDeps();
  const one = sampleTree({ config: cfg(10, 2, 2), seedText: 's', sourceId: 'src_x', deps: serial.deps });
  const serialRounds = await serial.drive(one);
  assert.equal((await one).nodes.length - 1, 38);
  assert.equal(serialRounds, 38 * 2, 'one action choice and one tool call per node, one after the other');
  assert.equal(serial.maxInFlight(), 1);

  const wide = roundDeps();
  const four = sampleTree({ config: cfg(10, 2, 2), seedText: 's', sourceId: 'src_x', deps: wide.deps, concurrency: 4 });
  const rounds = await wide.drive(four);
  const tree = await four;
  assert.equal(tree.nodes.length - 1, 38, 'the formula\'s node count');
  assert.equal(new Set(tree.nodes.map((n) => n.node_id)).size, 39, 'node ids stay unique');
  assert.equal(rounds, 10 * 2, 'the critical path: 10 levels of one action choice and one tool call');
  assert.ok(wide.maxInFlight() <= 4, `at most 4 node creations at once, saw ${wide.maxInFlight()}`);
  assert.deepEqual(expectedTreeSize(10, 2, 2).leaves, tree.nodes.filter((n) => n.children_ids.length === 0 && n.depth > 0).length);
});

test('explore_concurrency keeps the seed-wide de-duplication: concurrent siblings choosing the same action run it once', async () => {
  const r = roundDeps({ sameAction: true });
  const p = sampleTree({ config: cfg(2, 2, 2), seedText: 's', sourceId: 'src_x', deps: r.deps, concurrency: 4 });
  await r.drive(p);
  const tree = await p;
  assert.equal(tree.nodes.length - 1, 2 + 4);
  // The 4 depth-2 nodes all chose the same action: one ran it, three were refused.
  assert.equal(tree.duplicate_actions, 3);
  assert.equal(tree.tool_calls.calculator, 2 + 1);
});

test('branch paths (the call cache\'s places) are structural: the same under any completion order, unique per slot and attempt', async () => {
  /** Runs a D=3 b=2 t=2 tree with concurrency 4; `delay(req)` turns of the event loop before each answer. */
  const run = async (delay: (req: ChooseActionRequest) => number) => {
    const seen: { path: string; attempt: number; intent: string }[] = [];
    const deps: TreeSamplerDeps = {
      async chooseAction(req) {
        for (let i = 0; i < delay(req); i++) await new Promise((r) => setImmediate(r));
        // The first attempt at branch path 1.0 is unusable: its retry has attempt 1 in the same place.
        if (req.branchPath === '1.0' && req.attempt === 0) {
          seen.push({ path: req.branchPath, attempt: req.attempt, intent: '' });
          return { ok: false, reason: 'invalid_json: x', usage };
        }
        // The intent says where the request came from by branch path only (what a cached answer would be keyed on).
        const intent = `at ${req.branchPath}`;
        seen.push({ path: req.branchPath, attempt: req.attempt, intent });
        return { ok: true, intent, action: { tool_name: 'calculator', parameters: { expressions: [req.branchPath] } }, usage };
      },
      async runTool(action) {
        return { text: `obs ${String((action.parameters.expressions as string[])[0])}` };
      },
    };
    const tree = await sampleTree({ config: cfg(3, 2, 2), seedText: 's', sourceId: 'src_x', deps, concurrency: 4 });
    return { seen, tree };
  };
  const a = await run(() => 0);
  const b = await run((req) => (req.branchPath.endsWith('0') ? 5 : 0)); // first branches answer last
  const places = (s: typeof a.seen) => s.map((x) => `${x.path}#${x.attempt}`).sort();
  assert.deepEqual(places(a.seen), ['0#0', '0.0#0', '0.0.0#0', '0.1#0', '0.1.0#0', '1#0', '1.0#0', '1.0#1', '1.0.0#0', '1.1#0', '1.1.0#0']);
  assert.deepEqual(places(b.seen), places(a.seen), 'the same places whatever the completion order');
  assert.equal(new Set(places(a.seen)).size, a.seen.length, 'one place per call');
  // A node's parent is the node at its branch path minus the last index, in both runs.
  for (const { tree } of [a, b]) {
    const byId = new Map(tree.nodes.map((n) => [n.node_id, n]));
    for (const n of tree.nodes.filter((x) => x.depth > 1)) {
      const own = n.intent.slice(3);
      const parent = byId.get(n.parent_id!)!;
      assert.equal(parent.intent.slice(3), own.split('.').slice(0, -1).join('.'));
    }
  }
});
