// The config validators src/config/load.ts uses are generated from the schemas as they are now.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderConfigValidators } from '../../../scripts/config-validators.ts';

describe('src/generated/config-validators.ts', () => {
  it('is the code Ajv compiles from the config schemas as they are now (node scripts/config-validators.ts)', () => {
    const { current, wanted } = renderConfigValidators();
    assert.ok(current === wanted, 'src/generated/config-validators.ts is stale: run node scripts/config-validators.ts and commit it');
  });

  it("emits the auth section's validator once, called by the whole file's validator", () => {
    const { wanted } = renderConfigValidators();
    // The auth schema's text (a description of one of its keys) appears once: in the auth validator's schema.
    assert.equal(wanted.split('a dry run that audits').length - 1, 1);
    assert.match(wanted, /export const auth = (validate\d+);[\s\S]*export const config = validate\d+;/);
    const authFn = /export const auth = (validate\d+);/.exec(wanted)![1]!;
    assert.ok(wanted.includes(`${authFn}(data.auth,`), 'the config validator calls the auth validator');
  });
});
