import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileLookupPattern } from '../../../src/backends/lookup-pattern.ts';
import { AIRFLOW_VECTORS } from '../../helpers/airflow-vectors.ts';

const vectors = AIRFLOW_VECTORS;

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
  it("reads Python's spellings", () => {
    assert.equal(compileLookupPattern('(?P<p>aws)_db')('aws_db'), true);
    assert.equal(compileLookupPattern('\\Aaws\\Z')('aws'), true);
    assert.equal(compileLookupPattern('\\Aaws\\Z')('aws\n'), false);
    assert.equal(compileLookupPattern('aws\\\\Z')('aws\\Z'), true, 'an escaped backslash before Z is a backslash and a Z');
  });
  it('folds case as re.IGNORECASE does (Unicode simple case folding)', () => {
    assert.equal(compileLookupPattern('k')('\u212a'), true); // KELVIN SIGN
    assert.equal(compileLookupPattern('straße')('STRASSE'), false);
    assert.equal(compileLookupPattern('ÉTÉ')('été'), true);
  });
  it('matches in linear time: ^(a+)+$ against a 30-character id takes no time (a backtracking engine takes seconds)', () => {
    const m = compileLookupPattern('^(a+)+$');
    const started = performance.now();
    assert.equal(m(`${'a'.repeat(30)}!`), false);
    assert.equal(m('a'.repeat(250)), true);
    for (let i = 0; i < 1000; i++) m(`${'a'.repeat(250)}!`);
    assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`);
  });
  it('refuses what RE2 cannot run in linear time, with the reason', () => {
    assert.throws(() => compileLookupPattern('(?P<p>aws)_(?P=p)'), (e: Error) => e.name === 'LookupPatternError' && /linear time \(RE2\), which has no backreferences or lookaround/.test(e.message));
    assert.throws(() => compileLookupPattern('aws(?!_test)'), /linear time/);
    assert.throws(() => compileLookupPattern('(a)\\1'), /linear time/);
  });
  it('is reusable: a match does not leave state behind', () => {
    const m = compileLookupPattern('a');
    for (let i = 0; i < 3; i++) assert.equal(m('abc'), true);
  });
  it('throws on an invalid pattern', () => {
    assert.throws(() => compileLookupPattern('('));
  });
});
