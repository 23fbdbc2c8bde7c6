/**
 * Reads a Parquet file with a reader independent of the writer (hyparquet-writer): parquet-wasm, the Rust arrow-rs
 * `parquet` crate compiled to WebAssembly, decoded into Arrow (apache-arrow). Returns plain row objects in file
 * order (strings, numbers, null).
 */
import fs from 'node:fs';
import { readParquet } from 'parquet-wasm';
import { tableFromIPC } from 'apache-arrow';

export function readParquetRows(file: string): Record<string, unknown>[] {
  const wasmTable = readParquet(new Uint8Array(fs.readFileSync(file)));
  const table = tableFromIPC(wasmTable.intoIPCStream());
  return table.toArray().map((row) => {
    const o = row.toJSON() as Record<string, unknown>;
    return Object.fromEntries(table.schema.fields.map((f) => [f.name, o[f.name] ?? null]));
  });
}
