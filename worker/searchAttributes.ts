import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { searchAttributes } from '../workflows/definitions';

const indexedType = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

/** The `--search-attribute` flags that register gameday's attributes on a dev server. */
export function devServerSearchAttributeFlags(): string[] {
  return Object.values(searchAttributes).flatMap((key) => [
    '--search-attribute',
    `${key.name}=${key.type === 'KEYWORD_LIST' ? 'KeywordList' : 'Keyword'}`,
  ]);
}

/** Registers missing search attributes through the operator API (self-hosted clusters). Idempotent. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.values(searchAttributes).filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedType[key.type]])),
  });
  return missing.map((key) => key.name);
}
