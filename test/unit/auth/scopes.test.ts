// The scope grammar and the glob matcher: example cases and property tests
// against a regular-expression model of the same grammar.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { foldCase, globMatches, globMatchesFolded } from '../../../src/auth/glob.ts';
import { grantsFromClaims, parseScope, unsafeIdReason } from '../../../src/auth/scopes.ts';
import { SCOPED_ACTIONS } from '../../../src/secrets.ts';

/** The model: `*` → any run of characters, everything else literal, whole string. */
const model = (glob: string, text: string) =>
  new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`, 'u').test(text);

// Small alphabets make matches (and near misses) frequent.
const chars = fc.constantFrom('a', 'b', 'A', '/', '.', '_', ':', '*', 'é', '\u0430');
const glob = fc.array(chars, { maxLength: 12 }).map((a) => a.join(''));
const text = fc.array(fc.constantFrom('a', 'b', 'A', '/', '.', '_', ':', '*', 'é', '\u0430'), { maxLength: 16 }).map((a) => a.join(''));

describe('globMatches', () => {
  it('agrees with the regular-expression model on arbitrary globs and texts', () => {
    fc.assert(fc.property(glob, text, (g, t) => globMatches(g, t) === model(g, t)), { numRuns: 20000 });
  });

  it('agrees with the model on texts built to match (a glob made by starring parts of the text)', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 4 }), (t, cuts) => {
        let g = t;
        for (const c of cuts) {
          const i = g.length ? c % g.length : 0;
          g = `${g.slice(0, i)}*${g.slice(i + 1)}`;
        }
        return globMatches(g, t) && model(g, t);
      }),
      { numRuns: 5000 },
    );
  });

  it('a glob without * matches exactly one string: itself', () => {
    fc.assert(fc.property(text.filter((t) => !t.includes('*')), text, (g, t) => globMatches(g, t) === (g === t)));
  });

  it('"*" matches everything, including "", "/" and "../"', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (t) => globMatches('*', t)));
    for (const t of ['', '/', '../', 'a/b/c', '\u0000']) assert.ok(globMatches('*', t));
  });

  it('is case-sensitive and whole-string', () => {
    assert.ok(globMatches('team_a_*', 'team_a_db'));
    assert.ok(!globMatches('team_a_*', 'TEAM_A_db'));
    assert.ok(!globMatches('team_a_*', 'xteam_a_db'), 'anchored at the start');
    assert.ok(!globMatches('*_db', 'team_db_x'), 'anchored at the end');
    assert.ok(!globMatches('team_a', 'team_a_db'));
    assert.ok(!globMatches('team_a_*', 'team_\u0430_db'), 'a Cyrillic look-alike is another character');
    assert.ok(!globMatches('a*a', 'a'), 'parts may not overlap');
    assert.ok(globMatches('a*a', 'aa'));
    assert.ok(globMatches('a**b', 'ab'));
  });

  it('is fast on adversarial globs (no backtracking)', () => {
    const started = performance.now();
    const g = `${'*a'.repeat(200)}*b`;
    assert.equal(globMatches(g, 'a'.repeat(5000)), false);
    assert.ok(performance.now() - started < 500);
  });

  it('the folded match accepts every exact match, and differently-cased ids too', () => {
    fc.assert(fc.property(glob, text, (g, t) => !globMatches(g, t) || globMatchesFolded(g, t)), { numRuns: 5000 });
    fc.assert(fc.property(glob, text, (g, t) => globMatchesFolded(g, t) === globMatches(foldCase(g), foldCase(t))));
    assert.ok(globMatchesFolded('team_a_admin*', 'TEAM_A_ADMIN'));
    assert.ok(globMatchesFolded('secret_admin', 'SECRET_ADM\u0131N'), 'dotless i upper-cases to I, as the environment backend would read it');
  });
});

describe('parseScope', () => {
  it('reads kind:action:glob, the glob being everything after the second colon', () => {
    assert.deepEqual(parseScope('connections:read:team_a_*'), { action: 'connections:read', glob: 'team_a_*' });
    assert.deepEqual(parseScope('connections:read:a:b:*'), { action: 'connections:read', glob: 'a:b:*' });
    assert.deepEqual(parseScope('cache:invalidate:*'), { action: 'cache:invalidate', glob: '*' });
    assert.deepEqual(parseScope('backends:read'), { action: 'backends:read', glob: null });
  });

  it('grants nothing for anything outside the grammar', () => {
    for (const s of ['', 'openid', 'connections', 'connections:read', 'connections:read:', 'Connections:read:*', 'connections:READ:*', 'connections:write:*', 'secrets:read:*', 'backends:read:*', 'backends:read:x', ' connections:read:*', 'variables:test:*']) {
      assert.equal(parseScope(s), null, s);
    }
  });

  it('round-trips every scoped action with every non-empty glob', () => {
    fc.assert(fc.property(fc.constantFrom(...SCOPED_ACTIONS), glob.filter((g) => g.length > 0), (a, g) => {
      const parsed = parseScope(`${a}:${g}`);
      return parsed !== null && parsed.action === a && parsed.glob === g;
    }));
  });

  it('takes scopes from `scope` (space-separated) and `scp` (array), ignoring the rest', () => {
    assert.deepEqual(grantsFromClaims({ scope: 'openid connections:read:a*  variables:read:*', scp: ['config:read:x', 7, 'nope'] }), [
      { action: 'connections:read', glob: 'a*' },
      { action: 'variables:read', glob: '*' },
      { action: 'config:read', glob: 'x' },
    ]);
    assert.deepEqual(grantsFromClaims({ scope: ['connections:read:*'], scp: 'connections:read:*' }), [], 'wrong claim types grant nothing');
  });
});

describe('unsafeIdReason', () => {
  it('flags control characters and dot or empty segments, at either separator', () => {
    for (const id of ['a\u0000b', 'a\nb', 'a\u007f', 'a\u0085', '..', '.', 'a/../b', 'a/./b', '../a', 'a/..', 'a//b', '/a', 'a/', 'a\\..\\b']) {
      assert.ok(unsafeIdReason(id), JSON.stringify(id));
    }
    for (const id of ['', 'a', 'a.b', 'a..b', '...', 'team/nested/key', 'a.b/c.d', '.hidden', 'x..']) assert.equal(unsafeIdReason(id), null, id);
  });
});
