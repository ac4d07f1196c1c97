// The request's Cache-Control, and the glob grammar of invalidations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRequestFreshness } from '../../../src/cache/freshness.ts';
import { globMatches } from '../../../src/auth/glob.ts';
import { parseScope } from '../../../src/cache/invalidation.ts';

describe('request Cache-Control', () => {
  it('reads no-cache and max-age, ignores the rest', () => {
    assert.deepEqual(parseRequestFreshness(undefined), { noCache: false });
    assert.deepEqual(parseRequestFreshness('No-Cache'), { noCache: true });
    assert.deepEqual(parseRequestFreshness('max-age=30'), { noCache: false, maxAgeSeconds: 30 });
    assert.deepEqual(parseRequestFreshness('no-transform, max-age="10", max-age=5'), { noCache: false, maxAgeSeconds: 5 });
    assert.deepEqual(parseRequestFreshness(['max-age=0', 'no-cache']), { noCache: true, maxAgeSeconds: 0 });
    assert.deepEqual(parseRequestFreshness('no-store, only-if-cached'), { noCache: false });
  });
  it('refuses a max-age that is not a whole number of seconds', () => {
    for (const bad of ['max-age=', 'max-age=-1', 'max-age=1.5', 'max-age=abc', 'max-age']) {
      assert.throws(() => parseRequestFreshness(bad), /max-age/, bad);
    }
  });
});

describe('invalidation globs and scopes', () => {
  it('* spans any run (slashes too); the rest, ? included, literally (the grants\' grammar)', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', '', true],
      ['*', 'a/b/c', true],
      ['team/*', 'team/a/b', true],
      ['team/*', 'teams/a', false],
      ['a?c', 'abc', false],
      ['a?c', 'a?c', true],
      ['a?c', 'ac', false],
      ['*_db', 'prod_db', true],
      ['a.b', 'axb', false],
      ['(x)+[y]', '(x)+[y]', true],
      ['*a*a*a*a*a*a*a*a*b', 'a'.repeat(240), false],
    ];
    for (const [glob, id, expected] of cases) assert.equal(globMatches(glob, id), expected, `${glob} vs ${id}`);
  });
  it('reads scopes from untrusted messages', () => {
    assert.deepEqual(parseScope({ all: true }), { all: true });
    assert.deepEqual(parseScope({ kind: 'variable', id: 'k' }), { kind: 'variable', id: 'k' });
    assert.deepEqual(parseScope({ glob: 'a*' }), { glob: 'a*' });
    assert.deepEqual(parseScope({ glob: 'a*', kind: 'config' }), { glob: 'a*', kind: 'config' });
    for (const bad of [null, 'x', {}, { kind: 'nope', id: 'k' }, { id: 'k' }, { glob: '' }, { all: 'yes' }]) assert.equal(parseScope(bad), undefined);
  });
});
