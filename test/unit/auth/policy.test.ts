// Policies and the decision: deny beats grant, no grant means deny, claims are literal text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { accessFor, decide, policyProblems, substitute, type PolicyConfig } from '../../../src/auth/policy.ts';
import { parseScope, type Grant } from '../../../src/auth/scopes.ts';

const g = (s: string): Grant => parseScope(s)!;

const POLICIES: PolicyConfig[] = [
  { match: { sub: 'system:serviceaccount:airflow:airflow-worker' }, grants: ['connections:read:*', 'variables:read:*'] },
  { match: { team: '*' }, grants: ['connections:read:${team}_*'], deny: ['connections:read:${team}_admin*'] },
  { match: { groups: 'ops' }, grants: ['backends:read'] },
];

describe('decide', () => {
  it('allows what a scope grants and nothing else', () => {
    const access = { grants: [g('connections:read:team_a_*')], denies: [] };
    assert.deepEqual(decide(access, 'connections:read', 'team_a_db'), { allowed: true });
    assert.deepEqual(decide(access, 'connections:read', 'team_b_db'), { allowed: false, reason: 'no_grant' });
    assert.deepEqual(decide(access, 'variables:read', 'team_a_db'), { allowed: false, reason: 'no_grant' }, 'a grant for another kind');
    assert.deepEqual(decide(access, 'connections:test', 'team_a_db'), { allowed: false, reason: 'no_grant' }, 'a grant for another action');
    assert.deepEqual(decide(access, 'backends:read'), { allowed: false, reason: 'no_grant' });
  });

  it('lets a deny beat any grant, whatever the casing of the id', () => {
    const access = { grants: [g('connections:read:*')], denies: [g('connections:read:team_a_admin*')] };
    for (const id of ['team_a_admin', 'team_a_admin_db', 'TEAM_A_ADMIN', 'Team_A_Admin_x']) {
      assert.deepEqual(decide(access, 'connections:read', id), { allowed: false, reason: 'denied_by_policy' }, id);
    }
    assert.deepEqual(decide(access, 'connections:read', 'team_a_db'), { allowed: true });
  });

  it('never allows an unsafe id, whatever is granted (property)', () => {
    const access = { grants: [g('connections:read:*'), g('variables:read:*')], denies: [] };
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('/../', '/./', '//', '\u0000', '\n', '\\..\\'), fc.string(), (a, bad, b) => {
        const d = decide(access, 'variables:read', `${a}${bad}${b}`);
        return !d.allowed && d.reason === 'unsafe_id';
      }),
    );
  });

  it('a deny is never overridden by adding grants (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('connections:read:*', 'connections:read:a*', 'connections:read:ab', 'variables:read:*')), fc.stringMatching(/^[ab]{1,4}$/), (scopes, id) => {
        const access = { grants: scopes.map(g), denies: [g('connections:read:a*')] };
        return !id.startsWith('a') || !decide(access, 'connections:read', id).allowed;
      }),
    );
  });
});

describe('policies', () => {
  it('maps claims to grants, substituting ${claim}', () => {
    const worker = accessFor({ sub: 'system:serviceaccount:airflow:airflow-worker' }, [], POLICIES);
    assert.deepEqual(decide(worker, 'connections:read', 'anything'), { allowed: true });
    assert.deepEqual(decide(worker, 'config:read', 'anything'), { allowed: false, reason: 'no_grant' });

    const teamA = accessFor({ sub: 'x', team: 'a' }, [], POLICIES);
    assert.deepEqual(decide(teamA, 'connections:read', 'a_db'), { allowed: true });
    assert.deepEqual(decide(teamA, 'connections:read', 'b_db'), { allowed: false, reason: 'no_grant' });
    assert.deepEqual(decide(teamA, 'connections:read', 'a_admin_db'), { allowed: false, reason: 'denied_by_policy' });
  });

  it('applies policy denies to scoped tokens too', () => {
    const access = accessFor({ sub: 'x', team: 'a' }, [g('connections:read:*')], POLICIES);
    assert.deepEqual(decide(access, 'connections:read', 'a_admin'), { allowed: false, reason: 'denied_by_policy' });
    assert.deepEqual(decide(access, 'connections:read', 'zzz'), { allowed: true });
  });

  it('matches array claims by any element, and only scalar values', () => {
    assert.deepEqual(decide(accessFor({ groups: ['dev', 'ops'] }, [], POLICIES), 'backends:read'), { allowed: true });
    assert.deepEqual(decide(accessFor({ groups: { ops: true } }, [], POLICIES), 'backends:read'), { allowed: false, reason: 'no_grant' });
    assert.deepEqual(decide(accessFor({}, [], POLICIES), 'backends:read'), { allowed: false, reason: 'no_grant' });
  });

  it('treats a claim value as text: a "*" in it drops a grant and widens a deny', () => {
    assert.equal(substitute('connections:read:${team}_*', { team: '*' }, 'grant'), null);
    assert.equal(substitute('connections:read:${team}_*', {}, 'grant'), null);
    assert.equal(substitute('connections:read:${team}_admin*', { team: 'a*' }, 'deny'), 'connections:read:*_admin*');
    assert.equal(substitute('connections:read:${team}_admin*', {}, 'deny'), 'connections:read:*_admin*');
    const star = accessFor({ team: '*' }, [], POLICIES);
    assert.deepEqual(decide(star, 'connections:read', 'b_db'), { allowed: false, reason: 'no_grant' }, 'team "*" grants nothing');
  });

  it('no policy without a match, and config problems name the entry', () => {
    assert.deepEqual(accessFor({ sub: 'x' }, [], [{ match: {}, grants: ['connections:read:*'] }]).grants, []);
    assert.deepEqual(policyProblems([{ match: { a: '*' }, grants: ['connections:read:${x}', 'connections:delete:*'] }]), [
      ['auth.policies[0].grants[1]', '"connections:delete:*" is not a scope (kind:action:glob, or backends:read)'],
    ]);
  });
});
