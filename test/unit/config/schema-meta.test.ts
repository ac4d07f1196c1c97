// The configuration schemas are valid JSON Schema: src/config/load.ts compiles them without
// checking them against the meta-schema at every start, so the check is made here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { GatewayConfigSchema } from '../../../src/config/schema.ts';
import { backendOptionsSchemas } from '../../../src/backends/registry.ts';

const BACKEND_OPTIONS_SCHEMAS = await backendOptionsSchemas();

describe('configuration schemas', () => {
  const ajv = new Ajv({ strict: true });
  const schemas: Array<[string, unknown]> = [['config', GatewayConfigSchema], ...Object.entries(BACKEND_OPTIONS_SCHEMAS).map(([type, schema]): [string, unknown] => [`backend ${type}`, schema])];
  for (const [name, schema] of schemas) {
    it(`${name}: valid against the JSON Schema meta-schema`, () => {
      assert.equal(ajv.validateSchema(schema as object), true, ajv.errorsText());
    });
  }

  it('a malformed schema is caught by the same check', () => {
    assert.equal(ajv.validateSchema({ type: 'object', properties: { port: { type: 'integer', minimum: '1' } } }), false);
  });
});
