// The glob grammar's covering and overlap rules, which authorize cache invalidation by glob: they
// must be sound (never let through an id that matching one id at a time would refuse) and, for
// this grammar, exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { globCovers, globMatches, globsIntersect } from '../../../src/auth/glob.ts';

// Small alphabets make collisions (and so interesting cases) likely.
const glob = fc.array(fc.constantFrom('a', 'b', '/', '*', '?'), { maxLength: 7 }).map((cs) => cs.join(''));
const smallGlob = fc.array(fc.constantFrom('a', 'b', '/', '*', '?'), { maxLength: 3 }).map((cs) => cs.join(''));
const text = fc.array(fc.constantFrom('a', 'b', '/', '?', 'c'), { maxLength: 7 }).map((cs) => cs.join(''));
/** A string that `g` matches: each `*` filled with a random run. */
const instanceOf = (g: string) => fc.array(text, { minLength: g.split('*').length - 1, maxLength: g.split('*').length - 1 }).map((fills) => g.split('*').reduce((out, part, i) => out + (i > 0 ? fills[i - 1] : '') + part, ''));

/** Every string over the globs' own characters and one more, up to `max` long (small cases only). */
function* strings(chars: string[], max: number): Generator<string> {
  yield '';
  let level = [''];
  for (let n = 1; n <= max; n++) {
    const next: string[] = [];
    for (const s of level) for (const c of chars) next.push(s + c);
    yield* next;
    level = next;
  }
}

describe('globCovers (an invalidation glob needs a grant that covers it whole)', () => {
  it('is sound: every id the glob matches, a covering grant matches too', () => {
    fc.assert(
      fc.property(glob, glob, (grant, g) => {
        if (!globCovers(grant, g)) return true;
        return fc.sample(instanceOf(g), 20).every((id) => globMatches(grant, id));
      }),
      { numRuns: 3000 },
    );
  });

  it('is exact on small cases: not covering means some id the glob matches escapes the grant', () => {
    fc.assert(
      fc.property(glob, smallGlob, (grant, g) => {
        if (globCovers(grant, g)) return true;
        const chars = [...new Set([...grant, ...g, 'z'].filter((c) => c !== '*'))];
        // A witness fills each * of g with at most one character the grant does not have, or with nothing.
        for (const id of strings(chars, g.length)) if (globMatches(g, id) && !globMatches(grant, id)) return true;
        return false;
      }),
      { numRuns: 800 },
    );
  });

  it('answers the cases of the access-control table', () => {
    assert.ok(globCovers('team_a_*', 'team_a_*'));
    assert.ok(globCovers('team_a_*', 'team_a_x*'));
    assert.ok(globCovers('team_a_*', 'team_a_db'));
    assert.ok(globCovers('*', '*'));
    assert.ok(globCovers('*_db', 'team_*_db'));
    assert.ok(!globCovers('team_a_*', 'team_*'));
    assert.ok(!globCovers('team_a_*', '*'));
    assert.ok(!globCovers('team_a_db', 'team_a_*'));
    assert.ok(!globCovers('*_db', 'team_*'));
    assert.ok(!globCovers('a?', 'ab'), '? is a literal, as in grants');
  });
});

describe('globsIntersect (a deny refuses a glob that could reach a denied id)', () => {
  it('never misses a common id', () => {
    fc.assert(fc.property(glob, glob, text, (a, b, id) => !(globMatches(a, id) && globMatches(b, id)) || globsIntersect(a, b)), { numRuns: 5000 });
    fc.assert(fc.property(glob, glob, (a, b) => fc.sample(instanceOf(a), 10).every((id) => !globMatches(b, id) || globsIntersect(a, b))), { numRuns: 2000 });
  });

  it('is exact on small cases: an overlap has a witness', () => {
    fc.assert(
      fc.property(smallGlob, smallGlob, (a, b) => {
        if (!globsIntersect(a, b)) return true;
        const chars = [...new Set([...a, ...b, 'z'].filter((c) => c !== '*'))];
        for (const id of strings(chars, a.length + b.length)) if (globMatches(a, id) && globMatches(b, id)) return true;
        return false;
      }),
      { numRuns: 500 },
    );
  });
});
