// The attack battery: every way of getting a secret without the right token is
// refused with 401 or 403, a stable code, and an audit event that says why.
// Over real HTTP on loopback, so headers and paths arrive as an attacker sends them.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createSigner } from 'fast-jwt';
import { startTestGateway, TEST_KID, type TestGateway } from '../../helpers/gateway.ts';
import { send, type RawResponse } from '../../helpers/http-client.ts';

const AUD = 'secrets-gateway';
const ISS = 'https://issuer.test';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const ADMIN_PASSWORD = `admin-${randomBytes(8).toString('hex')}`;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const attackerRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: { export(o: object): string | Buffer }, type: 'spki' | 'pkcs8') => String(k.export({ type, format: 'pem' }));
const rsaPublicPem = pem(rsa.publicKey, 'spki');

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('attack battery', () => {
  let gw: TestGateway;
  let url: string;
  /** Claims every valid token has. */
  const base = () => ({ sub: 'attacker', aud: AUD, iss: ISS, exp: now() + 600 });

  before(async () => {
    gw = await startTestGateway({
      env: {
        AIRFLOW_CONN_TEAM_A_DB: `postgres://a:${PASSWORD}@db/a`,
        AIRFLOW_CONN_TEAM_A_ADMIN: `postgres://admin:${ADMIN_PASSWORD}@db/admin`,
        AIRFLOW_CONN_TEAM_B_DB: `postgres://b:${PASSWORD}@db/b`,
        AIRFLOW_VAR_TEAM_A_SECRET: PASSWORD,
      },
      files: { 'rsa.pem': rsaPublicPem, 'ec.pem': pem(ec.publicKey, 'spki'), 'ed.pem': pem(ed.publicKey, 'spki') },
      config: {
        backends: [{ type: 'environment' }],
        auth: {
          audience: AUD,
          issuer: ISS,
          clock_skew_seconds: 5,
          max_token_bytes: 4096,
          keys: [
            { kid: TEST_KID, alg: 'HS256', secret_file: 'test-signing-key' },
            { kid: 'rsa', alg: 'RS256', public_key_file: 'rsa.pem' },
            { kid: 'ec', alg: 'ES256', public_key_file: 'ec.pem' },
            { kid: 'ed', alg: 'EdDSA', public_key_file: 'ed.pem' },
          ],
          policies: [{ match: { team: '*' }, grants: ['connections:read:team_${team}_*'], deny: ['connections:read:team_${team}_admin*'] }],
        },
      },
    });
    url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await gw.close();
    assert.deepEqual(gw.contractProblems, [], 'every response matches openapi.yaml');
  });

  const signRs = (claims: object, header: { kid?: string; alg?: string } = {}, key = pem(rsa.privateKey, 'pkcs8')) =>
    createSigner({ key, algorithm: (header.alg ?? 'RS256') as 'RS256', kid: header.kid ?? 'rsa', noTimestamp: true })(claims);
  const bearer = (token: string): Array<[string, string]> => [['authorization', `Bearer ${token}`]];
  const scoped = (scope: string, extra: Record<string, unknown> = {}) => gw.token(scope.split(' '), extra);
  const readTeamA = () => scoped('connections:read:team_a_*');

  // Positive controls: the same keys and routes do serve a properly scoped token.
  it('serves a valid token from each key type (the refusals below are not a broken gateway)', async () => {
    const tokens = [
      readTeamA(),
      signRs({ ...base(), scope: 'connections:read:team_a_*' }),
      createSigner({ key: pem(ec.privateKey, 'pkcs8'), algorithm: 'ES256', kid: 'ec' })({ ...base(), scope: 'connections:read:team_a_*' }),
      createSigner({ key: pem(ed.privateKey, 'pkcs8'), algorithm: 'EdDSA', kid: 'ed' })({ ...base(), scope: 'connections:read:team_a_*' }),
      gw.token([], { team: 'a' }),
    ];
    for (const t of tokens) {
      const res = await send(url, '/v1/connections/team_a_db', bearer(t));
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json().password, PASSWORD);
    }
  });

  it('verifies through @fastify/jwt, and a key that does not fit its alg stops startup (not the first request)', async () => {
    assert.ok(gw.app.hasPlugin('@fastify/jwt'));
    for (const [alg, file] of [['ES256', 'rsa.pem'], ['RS256', 'rsa-private.pem']]) {
      const start = startTestGateway({
        files: { 'rsa.pem': rsaPublicPem, 'rsa-private.pem': pem(rsa.privateKey, 'pkcs8') },
        config: { backends: [{ type: 'environment' }], auth: { keys: [{ kid: 'k', alg, public_key_file: file }] } },
      });
      await assert.rejects(start, new RegExp(`auth\\.keys\\[0\\].*the key is not a ${alg} public key`));
    }
  });

  type Case = { name: string; path?: string; headers: () => Array<[string, string]>; status: 401 | 403; code: string; reason: string };
  const hs = readTeamA;
  const cases: Case[] = [
    { name: 'no token', headers: () => [], status: 401, code: 'unauthenticated', reason: 'missing_token' },
    { name: 'alg none', headers: () => bearer(`${b64({ alg: 'none', kid: TEST_KID })}.${b64({ ...base(), scope: 'connections:read:*' })}.`), status: 401, code: 'invalid_token', reason: 'alg_not_allowed' },
    { name: 'alg "None" with a signature', headers: () => bearer(`${b64({ alg: 'None', kid: TEST_KID })}.${b64({ ...base(), scope: 'connections:read:*' })}.c2ln`), status: 401, code: 'invalid_token', reason: 'alg_not_allowed' },
    {
      name: 'HS/RS confusion: HS256 signed with the RSA public key as the secret',
      headers: () => bearer(createSigner({ key: rsaPublicPem, algorithm: 'HS256', kid: 'rsa' })({ ...base(), scope: 'connections:read:*' })),
      status: 401, code: 'invalid_token', reason: 'alg_not_allowed',
    },
    { name: 'RS256 header against the HS key', headers: () => bearer(signRs({ ...base(), scope: 'connections:read:*' }, { kid: TEST_KID })), status: 401, code: 'invalid_token', reason: 'alg_not_allowed' },
    { name: 'PS256 against an RS256-only key', headers: () => bearer(signRs({ ...base(), scope: 'connections:read:*' }, { alg: 'PS256' })), status: 401, code: 'invalid_token', reason: 'alg_not_allowed' },
    { name: 'expired', headers: () => bearer(signRs({ ...base(), exp: now() - 60, scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'expired' },
    { name: 'nbf in the future', headers: () => bearer(signRs({ ...base(), nbf: now() + 120, scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'not_yet_valid' },
    { name: 'no exp', headers: () => bearer(signRs({ sub: 'x', aud: AUD, iss: ISS, scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'missing_claim' },
    { name: 'wrong aud', headers: () => bearer(signRs({ ...base(), aud: 'another-service', scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'wrong_audience' },
    { name: 'no aud', headers: () => bearer(signRs({ sub: 'x', iss: ISS, exp: now() + 60, scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'missing_claim' },
    { name: 'wrong iss', headers: () => bearer(signRs({ ...base(), iss: 'https://evil.test', scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'wrong_issuer' },
    { name: 'unknown kid', headers: () => bearer(signRs({ ...base(), scope: 'connections:read:*' }, { kid: 'nope' })), status: 401, code: 'invalid_token', reason: 'unknown_kid' },
    {
      name: 'jku header pointing at the attacker (never fetched)',
      headers: () => bearer(createSigner({ key: pem(attackerRsa.privateKey, 'pkcs8'), algorithm: 'RS256', kid: 'evil', header: { alg: 'RS256', jku: 'http://127.0.0.1:1/jwks.json' } })({ ...base(), scope: 'connections:read:*' })),
      status: 401, code: 'invalid_token', reason: 'unknown_kid',
    },
    { name: 'bad signature (attacker key, trusted kid)', headers: () => bearer(signRs({ ...base(), scope: 'connections:read:*' }, {}, pem(attackerRsa.privateKey, 'pkcs8'))), status: 401, code: 'invalid_token', reason: 'bad_signature' },
    { name: 'HS256 signed with another secret', headers: () => bearer(createSigner({ key: randomBytes(32), algorithm: 'HS256', kid: TEST_KID })({ ...base(), scope: 'connections:read:*' })), status: 401, code: 'invalid_token', reason: 'bad_signature' },
    {
      name: 'payload edited to widen the scope, signature kept',
      headers: () => {
        const [h, , s] = hs().split('.');
        return bearer(`${h}.${b64({ ...base(), scope: 'connections:read:*' })}.${s}`);
      },
      status: 401, code: 'invalid_token', reason: 'bad_signature',
    },
    { name: 'truncated signature', headers: () => bearer(hs().slice(0, -6)), status: 401, code: 'invalid_token', reason: 'bad_signature' },
    { name: 'truncated to two segments', headers: () => bearer(hs().split('.').slice(0, 2).join('.')), status: 401, code: 'invalid_token', reason: 'malformed_token' },
    { name: 'token in the query string', path: `/v1/connections/team_a_db?access_token=x`, headers: () => bearer(hs()), status: 401, code: 'invalid_token', reason: 'token_in_query' },
    { name: 'JWT in another query parameter', path: '/v1/connections/team_a_db?format=PLACEHOLDER', headers: () => [], status: 401, code: 'invalid_token', reason: 'token_in_query' },
    { name: 'two Authorization headers', headers: () => [...bearer(hs()), ...bearer(scoped('connections:read:*'))], status: 401, code: 'invalid_token', reason: 'multiple_authorization' },
    { name: 'oversized token', headers: () => bearer(scoped('connections:read:team_a_*', { pad: 'x'.repeat(5000) })), status: 401, code: 'invalid_token', reason: 'token_too_large' },
    { name: 'Basic instead of Bearer', headers: () => [['authorization', `Basic ${Buffer.from('a:b').toString('base64')}`]], status: 401, code: 'invalid_token', reason: 'malformed_token' },
    { name: 'scope for another team (glob does not reach)', path: '/v1/connections/team_b_db', headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'case trick: upper-cased id (the environment backend would fold it)', path: '/v1/connections/TEAM_A_DB', headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'case trick past a deny', path: '/v1/connections/TEAM_A_ADMIN', headers: () => bearer(scoped('connections:read:*', { team: 'a' })), status: 403, code: 'forbidden', reason: 'denied_by_policy' },
    { name: 'policy deny beats the policy grant', path: '/v1/connections/team_a_admin', headers: () => bearer(gw.token([], { team: 'a' })), status: 403, code: 'forbidden', reason: 'denied_by_policy' },
    { name: 'a "*" claim does not widen a policy grant', path: '/v1/connections/team_b_db', headers: () => bearer(gw.token([], { team: '*' })), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'upper-cased scope kind', headers: () => bearer(scoped('Connections:read:*')), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'scope claim as an array (only scp may be one)', headers: () => bearer(gw.token([], { scope: ['connections:read:*'] })), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'grant for another kind', headers: () => bearer(scoped('variables:read:*')), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'grant for another action', headers: () => bearer(scoped('connections:test:*')), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: '../ in the path', path: '/v1/connections/team_a_x/../team_b_db', headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'unsafe_id' },
    { name: '%2F..%2F in the id', path: '/v1/connections/team_a_x%2F..%2Fteam_b_db', headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'unsafe_id' },
    { name: '%2e%2e segment in a variable key', path: '/v1/variables/team_a_%2F%2e%2e%2Fteam_b', headers: () => bearer(scoped('variables:read:team_a_*')), status: 403, code: 'forbidden', reason: 'unsafe_id' },
    { name: 'NUL in the id', path: '/v1/connections/team_a_db%00', headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'unsafe_id' },
    { name: 'Cyrillic look-alike', path: `/v1/connections/${encodeURIComponent('team_\u0430_db')}`, headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'no_grant' },
    { name: 'fullwidth look-alike', path: `/v1/connections/${encodeURIComponent('\uff54eam_a_db')}`, headers: () => bearer(hs()), status: 403, code: 'forbidden', reason: 'no_grant' },
  ];

  const answered: Array<{ c: Case; res: RawResponse }> = [];

  it(`refuses all ${cases.length} attacks with 401/403 and a stable code`, async () => {
    assert.ok(cases.length >= 25);
    for (const c of cases) {
      let path = c.path ?? '/v1/connections/team_a_db';
      if (path.includes('PLACEHOLDER')) path = path.replace('PLACEHOLDER', hs());
      const res = await send(url, path, c.headers());
      answered.push({ c, res });
      assert.equal(res.status, c.status, `${c.name}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, c.name);
      assert.equal(res.json().code, c.code, c.name);
      if (c.status === 401) {
        assert.equal(res.json().reason, c.reason, c.name);
        assert.match(String(res.headers['www-authenticate']), /^Bearer realm="secrets-gateway"/, c.name);
      }
      assert.ok(!res.body.includes(PASSWORD) && !res.body.includes(ADMIN_PASSWORD), `${c.name}: no secret in the refusal`);
    }
  });

  it('answers a batch item outside the grant as status "error", code "denied"', async () => {
    const res = await send(url, '/v1/lookup', [...bearer(hs()), ['content-type', 'application/json']], {
      method: 'POST',
      body: JSON.stringify({ connections: ['team_a_db', 'team_b_db', 'TEAM_A_DB', 'team_a_x/../team_b_db'], variables: ['team_a_secret'] }),
    });
    assert.equal(res.status, 200);
    const body = res.json() as { connections: Array<{ status: string; code?: string; connection?: unknown }>; variables: Array<{ status: string; code?: string }> };
    assert.deepEqual(body.connections.map((c) => [c.status, c.code]), [['found', undefined], ['error', 'denied'], ['error', 'denied'], ['error', 'denied']]);
    assert.deepEqual(body.variables, [{ key: 'team_a_secret', status: 'error', code: 'denied' }]);
    assert.ok(!res.body.includes(ADMIN_PASSWORD));
  });

  it('writes an audit event for every refusal, with its reason, and never the token or a value', async () => {
    await gw.close(); // flushes the audit log
    const events = gw.auditEvents();
    for (const { c, res } of answered) {
      const event = events.find((e) => e.request_id === res.headers['x-request-id']);
      assert.ok(event, `${c.name}: an audit event`);
      assert.equal(event.decision, 'deny', c.name);
      assert.equal(event.outcome, 'denied', c.name);
      assert.equal(event.reason, c.reason, c.name);
      assert.equal(event.status, c.status, c.name);
      if (c.status === 403) assert.equal(event.subject, 'test-subject', `${c.name}: the verified subject`);
      else assert.equal(event.subject, null, `${c.name}: no subject from an unverified token`);
    }
    const batch = events.filter((e) => e.route === '/v1/lookup');
    assert.deepEqual(batch.map((e) => [e.id, e.decision, e.outcome, e.reason ?? null]), [
      ['team_a_db', 'allow', 'found', null],
      ['team_b_db', 'deny', 'denied', 'no_grant'],
      ['TEAM_A_DB', 'deny', 'denied', 'no_grant'],
      ['team_a_x/../team_b_db', 'deny', 'denied', 'unsafe_id'],
      ['team_a_secret', 'deny', 'denied', 'no_grant'],
    ]);
    const text = JSON.stringify(events);
    for (const secret of [PASSWORD, ADMIN_PASSWORD, 'eyJ']) assert.ok(!text.includes(secret), `audit log contains ${secret.slice(0, 3)}…`);
  });
});
