/**
 * Layout of a seed's exploration tree for drawing (pure): each leaf gets its own column in depth-first order, a
 * parent sits centred over its first and last child, and depth is the row. Coordinates are in grid units (the
 * report scales them to pixels).
 */
import type { CompactNode } from '../shared/types';

export interface PlacedNode extends CompactNode {
  /** Column (0-based, may be fractional for a parent over several children). */
  x: number;
  /** Row: the node's depth relative to the shallowest node. */
  y: number;
}

export interface TreeLayout {
  nodes: PlacedNode[];
  /** Parent → child edges, by node id. */
  edges: { from: string; to: string }[];
  /** Columns used (≥ 1 for a non-empty tree). */
  width: number;
  /** Rows used. */
  height: number;
}

/**
 * Places the nodes of a tree. Nodes whose parent is not in the list are roots (drawn side by side), so a partial
 * tree (only the selected paths of an old result file) still draws. Children keep their order in the list.
 */
export function layoutTree(nodes: readonly CompactNode[]): TreeLayout {
  const ids = new Set(nodes.map((n) => n.node_id));
  const children = new Map<string, CompactNode[]>();
  const roots: CompactNode[] = [];
  for (const n of nodes) {
    if (n.parent_id !== null && ids.has(n.parent_id)) {
      const list = children.get(n.parent_id) ?? [];
      list.push(n);
      children.set(n.parent_id, list);
    } else roots.push(n);
  }
  const minDepth = nodes.reduce((m, n) => Math.min(m, n.depth), Infinity);
  const placed = new Map<string, PlacedNode>();
  const edges: TreeLayout['edges'] = [];
  let nextColumn = 0;
  // Iterative post-order (deep trees must not overflow the stack).
  for (const root of roots) {
    const stack: { node: CompactNode; visited: boolean }[] = [{ node: root, visited: false }];
    while (stack.length) {
      const top = stack.pop()!;
      const kids = children.get(top.node.node_id) ?? [];
      if (!top.visited) {
        stack.push({ node: top.node, visited: true });
        for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i]!, visited: false });
        continue;
      }
      let x: number;
      if (kids.length === 0) x = nextColumn++;
      else {
        const first = placed.get(kids[0]!.node_id)!;
        const last = placed.get(kids[kids.length - 1]!.node_id)!;
        x = (first.x + last.x) / 2;
        for (const k of kids) edges.push({ from: top.node.node_id, to: k.node_id });
      }
      placed.set(top.node.node_id, { ...top.node, x, y: top.node.depth - (Number.isFinite(minDepth) ? minDepth : 0) });
    }
  }
  const list = nodes.map((n) => placed.get(n.node_id)!).filter(Boolean);
  return { nodes: list, edges, width: Math.max(nextColumn, list.length ? 1 : 0), height: list.reduce((m, n) => Math.max(m, n.y + 1), 0) };
}
