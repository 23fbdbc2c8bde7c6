/** Typed custom search attributes: filter runs in the Web UI / `temporal workflow list --query`. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from './constants';

export const RunIdAttr = defineSearchAttributeKey(SEARCH_ATTRIBUTES.runId, SearchAttributeType.KEYWORD);
export const ModeAttr = defineSearchAttributeKey(SEARCH_ATTRIBUTES.mode, SearchAttributeType.KEYWORD);
export const StatusAttr = defineSearchAttributeKey(SEARCH_ATTRIBUTES.status, SearchAttributeType.KEYWORD);

/** `--search-attribute Name=Type` flags for `temporal server start-dev`. */
export const SEARCH_ATTRIBUTE_FLAGS = Object.values(SEARCH_ATTRIBUTES).map((n) => `${n}=Keyword`);

/**
 * The search attribute a Temporal server refused as unknown, read from its error or any `cause` below it (the SDK
 * wraps gRPC errors: "Failed to start Workflow" ← "3 INVALID_ARGUMENT: …"), else null. The messages are
 * go.temporal.io/server's: a start with a SQL visibility store says "Namespace <ns> has no mapping defined for
 * search attribute <name>", otherwise "search attribute <name> is not defined"; a list query says "column name
 * '<name>' is not a valid search attribute".
 */
export function unknownSearchAttribute(e: unknown): string | null {
  for (let cur = e, depth = 0; cur && depth < 8; cur = (cur as { cause?: unknown }).cause, depth++) {
    const msg = String((cur as Error).message ?? '');
    const m =
      /no mapping defined for search attribute (\w+)/.exec(msg) ??
      /search attribute (\w+) is not defined/.exec(msg) ??
      /column name '(\w+)' is not a valid search attribute/.exec(msg);
    if (m) return m[1]!;
  }
  return null;
}
