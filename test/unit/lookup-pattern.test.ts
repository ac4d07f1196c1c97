import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileLookupPattern } from '../../src/backends/lookup-pattern.ts';

const vectors = JSON.parse(readFileSync(new URL('../../../shared/conformance/airflow-vectors.json', import.meta.url), 'utf8'));

describe('lookup patterns (re.match(pattern, id, re.IGNORECASE))', () => {
  for (const v of vectors.lookup_pattern as Array<{ pattern: string; id: string; backend_is_queried: boolean; source: string }>) {
    it(`${JSON.stringify(v.pattern)} vs ${v.id} → ${v.backend_is_queried ? 'queried' : 'skipped'}`, () => {
      assert.equal(compileLookupPattern(v.pattern)(v.id), v.backend_is_queried, v.source);
    });
  }
  it('is anchored at the start only, and case-insensitive', () => {
    const m = compileLookupPattern('aws');
    assert.equal(m('AWS_default'), true);
    assert.equal(m('aws'), true);
    assert.equal(m('my_aws'), false);
    assert.equal(compileLookupPattern('snowflake$')('snowflake_x'), false);
  });
  it('lets everything through when missing or empty', () => {
    assert.equal(compileLookupPattern(null)('x'), true);
    assert.equal(compileLookupPattern(undefined)('x'), true);
  });
  it('translates Python-only spellings', () => {
    assert.equal(compileLookupPattern('(?P<p>aws)_(?P=p)')('aws_aws'), true);
    assert.equal(compileLookupPattern('\\Aaws\\Z')('aws'), true);
    assert.equal(compileLookupPattern('\\Aaws\\Z')('aws\n'), false);
  });
  it('is reusable: a match does not leave state behind', () => {
    const m = compileLookupPattern('a');
    for (let i = 0; i < 3; i++) assert.equal(m('abc'), true);
  });
  it('throws on an invalid pattern', () => {
    assert.throws(() => compileLookupPattern('('));
  });
});
