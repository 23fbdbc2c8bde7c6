/** Typed custom search attributes: filter runs in the Web UI / `temporal workflow list --query`. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from './constants';

export const RunIdAttr = defineSearchAttributeKey(SEARCH_ATTRIBUTES.runId, SearchAttributeType.KEYWORD);
export const ModeAttr = defineSearchAttributeKey(SEARCH_ATTRIBUTES.mode, SearchAttributeType.KEYWORD);
export const StatusAttr = defineSearchAttributeKey(SEARCH_ATTRIBUTES.status, SearchAttributeType.KEYWORD);

/** `--search-attribute Name=Type` flags for `temporal server start-dev`. */
export const SEARCH_ATTRIBUTE_FLAGS = Object.values(SEARCH_ATTRIBUTES).map((n) => `${n}=Keyword`);
