// openapi.json, what the gateway loads, is openapi.yaml (the contract) as it is now.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderOpenApiJson } from '../../../scripts/openapi-json.ts';

describe('openapi.json', () => {
  it('is openapi.yaml as it is now (node scripts/openapi-json.ts)', () => {
    const { current, wanted } = renderOpenApiJson();
    assert.ok(current === wanted, 'openapi.json is stale: run node scripts/openapi-json.ts and commit it');
  });
});
