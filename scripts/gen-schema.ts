/** Writes configs/schema.json from the zod config schema (input side: keys with defaults are optional). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../src/config/schema';

const out = path.resolve(__dirname, '..', 'configs', 'schema.json');
const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as {
  properties: Record<string, Record<string, unknown>>;
};
// Keys whose schema has a transform (environment_mode's `py` alias, null → "" for tips) lose their default
// in toJSONSchema; restate every default from the schema itself.
const defaults = configSchema.parse({}) as Record<string, unknown>;
for (const [key, prop] of Object.entries(schema.properties)) {
  if (!('default' in prop) && key in defaults) schema.properties[key] = { default: defaults[key], ...prop };
}
fs.writeFileSync(out, `${JSON.stringify({ ...schema, title: 'qasynth synthesis config' }, null, 2)}\n`);
console.log(out);
