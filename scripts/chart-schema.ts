// Keeps the Helm chart's values.schema.json in step with the gateway's own
// configuration schema. The chart-level part of values.schema.json is written by
// hand; its `config` property is generated here from GatewayConfigSchema, with
// each backend entry checked against its own type's options schema, so a typo
// anywhere in `config:` fails `helm install` as it would fail the gateway.
//   node scripts/chart-schema.ts           rewrite helm/secrets-gateway/values.schema.json
//   node scripts/chart-schema.ts --check   exit 1 when the committed file is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GatewayConfigSchema } from '../src/config/schema.ts';
import { backendOptionsSchemas } from '../src/backends/registry.ts';

/** Each backend type's options schema, from its descriptor (src/backends/<name>/options.ts). */
const BACKEND_OPTIONS_SCHEMAS = await backendOptionsSchemas();

export const VALUES_SCHEMA_PATH = fileURLToPath(new URL('../helm/secrets-gateway/values.schema.json', import.meta.url));

type JsonObject = Record<string, unknown>;

/** A TypeBox schema as plain JSON (TypeBox's symbol keys do not survive). */
const plain = (schema: unknown): JsonObject => JSON.parse(JSON.stringify(schema)) as JsonObject;

/**
 * The gateway fills defaults (Ajv `useDefaults`) before it checks `required`, so a
 * key that has a default may be left out of the file: drop it from `required`.
 */
function defaultsAreOptional(schema: unknown): void {
  if (Array.isArray(schema)) return schema.forEach(defaultsAreOptional);
  if (schema === null || typeof schema !== 'object') return;
  const node = schema as JsonObject;
  const properties = node.properties as Record<string, JsonObject> | undefined;
  if (properties && Array.isArray(node.required)) {
    node.required = (node.required as string[]).filter((key) => properties[key]?.default === undefined);
    if ((node.required as string[]).length === 0) delete node.required;
  }
  for (const value of Object.values(node)) defaultsAreOptional(value);
}

/** The JSON Schema of the chart's `config` value: the gateway's configuration file. */
export function configValueSchema(): JsonObject {
  const config = plain(GatewayConfigSchema);
  const types = Object.keys(BACKEND_OPTIONS_SCHEMAS);
  const backends = (config.properties as JsonObject).backends as JsonObject;
  backends.items = {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: types } },
    allOf: types.map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: plain(BACKEND_OPTIONS_SCHEMAS[type]),
    })),
  };
  defaultsAreOptional(config);
  config.description = 'The gateway configuration file (config.yaml); generated from src/config/schema.ts by scripts/chart-schema.ts.';
  return config;
}

/** values.schema.json with its `config` property regenerated; everything else kept as written. */
export function chartValuesSchema(current: JsonObject): JsonObject {
  const properties = current.properties as JsonObject;
  return { ...current, properties: { ...properties, config: configValueSchema() } };
}

export function renderChartValuesSchema(): { current: string; wanted: string } {
  const current = readFileSync(VALUES_SCHEMA_PATH, 'utf8');
  return { current, wanted: `${JSON.stringify(chartValuesSchema(JSON.parse(current) as JsonObject), null, 2)}\n` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { current, wanted } = renderChartValuesSchema();
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      process.stderr.write(`${VALUES_SCHEMA_PATH} is stale: the gateway's config schema changed. Run: node scripts/chart-schema.ts\n`);
      process.exit(1);
    }
    process.stdout.write('values.schema.json is up to date\n');
  } else {
    writeFileSync(VALUES_SCHEMA_PATH, wanted);
    process.stdout.write(`wrote ${VALUES_SCHEMA_PATH}\n`);
  }
}
