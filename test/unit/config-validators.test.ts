// The config validators src/config/load.ts uses are generated from the schemas as they are now.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderConfigValidators } from '../../scripts/config-validators.ts';

describe('src/config/validators.generated.ts', () => {
  it('is the code Ajv compiles from the config schemas as they are now (node scripts/config-validators.ts)', () => {
    const { current, wanted } = renderConfigValidators();
    assert.ok(current === wanted, 'src/config/validators.generated.ts is stale: run node scripts/config-validators.ts and commit it');
  });
});
