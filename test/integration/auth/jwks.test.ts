// Remote key sets: a real HTTP server on loopback serves a JWKS and rotates its
// key mid-test; unknown kids refetch the set, but no more often than allowed.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSigner } from 'fast-jwt';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTestGateway, tempDir, type TestGateway } from '../../helpers/gateway.ts';
import { startHttpServer, type HttpServer } from '../../helpers/servers/http.ts';

const ISS = 'https://kubernetes.default.svc';

function keyPair(kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(publicKey as KeyObject).export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' };
  const sign = createSigner({ key: String(privateKey.export({ type: 'pkcs8', format: 'pem' })), algorithm: 'ES256', kid });
  return { jwk, token: (claims: object = {}) => sign({ sub: 'system:serviceaccount:airflow:airflow-worker', iss: ISS, aud: 'secrets-gateway', ...claims }) };
}

describe('JWKS key sets', () => {
  let jwks: HttpServer;
  let gw: TestGateway;
  let served: Array<Record<string, unknown>>;
  const first = keyPair('key-2025');
  const second = keyPair('key-2026');

  before(async () => {
    served = [first.jwk];
    jwks = await startHttpServer({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: served }));
      },
    });
    gw = await startTestGateway({
      env: { AIRFLOW_VAR_SHARED: 'jwks-shared-value' },
      config: {
        backends: [{ type: 'environment' }],
        auth: {
          audience: 'secrets-gateway',
          issuer: ISS,
          jwks: [{ url: `${jwks.url}/openid/v1/jwks`, min_refresh_interval_seconds: 0.3 }],
          policies: [{ match: { sub: 'system:serviceaccount:airflow:*' }, grants: ['variables:read:*'] }],
        },
      },
    });
  });
  after(async () => {
    await gw.close();
    await jwks.stop();
    assert.deepEqual(gw.contractProblems, []);
  });

  const read = (token: string) => gw.inject({ method: 'GET', url: '/v1/variables/shared', headers: { authorization: `Bearer ${token}` } });
  const fetches = () => jwks.requests.length;

  it('sends the bearer token from token_file with each fetch, re-read every time (an API server that wants authentication)', async () => {
    const dir = tempDir();
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'reader-token-1\n');
    const seen: string[] = [];
    const guarded = await startHttpServer({
      handler: (req, res) => {
        seen.push(String(req.headers.authorization));
        const ok = req.headers.authorization === 'Bearer reader-token-1' || req.headers.authorization === 'Bearer reader-token-2';
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(ok ? JSON.stringify({ keys: [second.jwk] }) : '{}');
      },
    });
    const auth = (jwks: Record<string, unknown>) => ({
      audience: 'secrets-gateway',
      issuer: ISS,
      jwks: [{ url: `${guarded.url}/openid/v1/jwks`, min_refresh_interval_seconds: 0, cache_seconds: 1, ...jwks }],
      policies: [{ match: { sub: 'system:serviceaccount:airflow:*' }, grants: ['variables:read:*'] }],
    });
    const without = await startTestGateway({ env: { AIRFLOW_VAR_SHARED: 'jwks-shared-value' }, config: { backends: [{ type: 'environment' }], auth: auth({}) } });
    const withToken = await startTestGateway({ env: { AIRFLOW_VAR_SHARED: 'jwks-shared-value' }, config: { backends: [{ type: 'environment' }], auth: auth({ token_file: tokenFile }) } });
    try {
      // A new token each time: a verified token is cached until its exp and would not touch the key set.
      let n = 0;
      const get = (g: TestGateway) =>
        g.inject({ method: 'GET', url: '/v1/variables/shared', headers: { authorization: `Bearer ${second.token({ exp: Math.floor(Date.now() / 1000) + 600 + n++ })}` } });
      const refused = (await get(without)).statusCode;
      assert.ok(refused === 401 || refused === 503, `no token: the key set cannot be fetched and the caller is refused (got ${refused})`);
      assert.equal((await get(withToken)).statusCode, 200);
      writeFileSync(tokenFile, 'reader-token-2\n'); // kubelet rotated the projected token
      await sleep(1100); // past cache_seconds: the next request refetches
      assert.equal((await get(withToken)).statusCode, 200);
      assert.ok(seen.includes('Bearer reader-token-2'), 'the rotated token was read again');
      assert.ok(seen.includes('undefined'), 'the gateway without token_file sent no Authorization');
    } finally {
      await without.close();
      await withToken.close();
      await guarded.stop();
    }
  });

  it('verifies a token signed by a key from the set (fetched once at startup, then cached)', async () => {
    assert.equal(fetches(), 1);
    const res = await read(first.token({ exp: Math.floor(Date.now() / 1000) + 600 }));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().value, 'jwks-shared-value');
    assert.equal((await read(first.token({ exp: Math.floor(Date.now() / 1000) + 601 }))).statusCode, 200);
    assert.equal(fetches(), 1, 'a known kid does not refetch');
  });

  it('follows a rotation: the new kid refetches the set, the rotated-out key stops verifying', async () => {
    served = [second.jwk]; // the issuer rotates
    await sleep(350);
    const res = await read(second.token({ exp: Math.floor(Date.now() / 1000) + 600 }));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(fetches(), 2);
    const old = await read(first.token({ exp: Math.floor(Date.now() / 1000) + 602 })); // a new token with the old key
    assert.equal(old.statusCode, 401);
    assert.equal(old.json().reason, 'unknown_kid');
  });

  it('rate-limits refetches for unknown kids', async () => {
    await sleep(350);
    const before = fetches();
    for (let i = 0; i < 20; i++) {
      const forged = keyPair(`made-up-${i}`);
      const res = await read(forged.token({ exp: Math.floor(Date.now() / 1000) + 600 }));
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().reason, 'unknown_kid');
    }
    assert.equal(fetches() - before, 1, '20 unknown kids in a burst, one refetch');
  });

  it('never takes a symmetric key from a remote set', async () => {
    served = [second.jwk, { kty: 'oct', kid: 'oct-key', k: Buffer.from('x'.repeat(32)).toString('base64url'), alg: 'HS256' }];
    await sleep(350);
    const forged = createSigner({ key: 'x'.repeat(32), algorithm: 'HS256', kid: 'oct-key' })({ sub: 'system:serviceaccount:airflow:x', iss: ISS, aud: 'secrets-gateway' , exp: Math.floor(Date.now() / 1000) + 60 });
    const res = await read(forged);
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().reason, 'unknown_kid');
  });
});
