// Faults on real servers: OpenBao stopped and restarted, moto behind a proxy that
// throttles, a backend that hangs, Vault tokens that expire or are revoked mid-run;
// and every Vault auth method against a real OpenBao.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { awsBackendConfig } from '../helpers/backend-fixtures.ts';
import { registerSecrets, startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';
import { startTokenReviewServer } from '../helpers/servers/kubernetes-tokenreview.ts';
import { startMoto } from '../helpers/servers/moto.ts';
import { startOpenBao, type OpenBaoServer } from '../helpers/servers/openbao.ts';
import type { VaultBackend } from '../../src/backends/vault/backend.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed(gw: TestGateway, url: string): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const res = await gw.inject({ url });
  return { status: res.statusCode, body: res.json(), ms: performance.now() - t0 };
}

const vaultLogins = (gw: TestGateway) => (gw.chain.links[0]!.backend as VaultBackend).client.logins;

describe('Vault faults and auth on a real OpenBao', () => {
  let bao: OpenBaoServer;
  before(async () => {
    bao = await startOpenBao();
    registerSecrets([bao.rootToken]);
    await bao.putSecret('secret', 'connections/pg', { conn_uri: 'postgres://u:p@db:5432/x' }, 2);
    await bao.putSecret('secret', 'variables/team/a', { value: 'A' }, 2);
    await bao.writeReadPolicy('reader', ['secret']);
  });
  after(async () => {
    await bao.dispose();
  });

  it('OpenBao stopped mid-run: lookups fail fast once the breaker opens, and recover when it returns', async () => {
    const gw = await startTestGateway({
      config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, token: bao.rootToken, timeout_seconds: 2, max_retries: 1, circuit_breaker_failures: 3, circuit_breaker_reset_seconds: 0.5 }] },
    });
    try {
      assert.equal((await timed(gw, '/v1/connections/pg')).status, 200);
      await bao.stop();
      const failures = [];
      for (let i = 0; i < 6; i++) failures.push(await timed(gw, '/v1/connections/pg'));
      for (const f of failures) assert.equal(f.status, 503);
      assert.deepEqual(failures.slice(0, 3).map((f) => f.body.failed_backends[0].code), ['unreachable', 'unreachable', 'unreachable']);
      // Open: answered without asking the stopped server (circuit_open is decided before any request is made).
      // The time bound is loose on purpose: a shared 2-core machine; the hanging-backend test below shows the contrast.
      assert.deepEqual(failures.slice(3).map((f) => f.body.failed_backends[0].code), ['circuit_open', 'circuit_open', 'circuit_open']);
      assert.ok(Math.max(...failures.slice(3).map((f) => f.ms)) < 500, `open circuit answers at once: ${failures.slice(3).map((f) => f.ms.toFixed(1))}`);
      const ready = await gw.inject({ url: '/readyz' });
      assert.equal(ready.json().backends[0].circuit, 'open');
      assert.equal(ready.json().backends[0].state, 'degraded');

      await bao.restart();
      await sleep(600); // past circuit_breaker_reset_seconds: the next lookup is the half-open probe
      const recovered = await timed(gw, '/v1/connections/pg');
      assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
      const after = (await gw.inject({ url: '/readyz' })).json().backends[0];
      assert.equal(after.circuit, 'closed');
      assert.equal(after.state, 'ready');
      assert.deepEqual(gw.contractProblems, []);
    } finally {
      await gw.close();
      // The other tests need the server, whatever happened above.
      if (!(await bao.request('GET', 'sys/health').then(() => true, () => false))) await bao.restart();
    }
  });

  it('a short-TTL token expiring mid-run: renewed or replaced by a login in time, no failed request', async () => {
    await bao.enableApprole();
    const role = await bao.createApproleRole('short', ['reader'], { tokenTtl: '2s' });
    registerSecrets([role.secretId]);
    await bao.write('auth/approle/role/short', { token_policies: ['reader'], token_ttl: '2s', token_max_ttl: '2s', secret_id_num_uses: 0 });
    const gw = await startTestGateway({
      config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId }] },
    });
    try {
      const statuses: number[] = [];
      const until = Date.now() + 4500;
      while (Date.now() < until) {
        const batch = await Promise.all([1, 2, 3].map(() => timed(gw, '/v1/variables/team/a')));
        statuses.push(...batch.map((r) => r.status));
        await sleep(100);
      }
      assert.ok(statuses.length > 30);
      assert.deepEqual([...new Set(statuses)], [200], 'no failed request');
      // The token lives 2 s with a 2 s max TTL: it is replaced before it expires, about every 1.3 s.
      assert.ok(vaultLogins(gw) >= 3 && vaultLogins(gw) <= 5, `logins: ${vaultLogins(gw)}`);
    } finally {
      await gw.close();
    }
  });

  it('a token revoked mid-run: one re-login shared by every waiting request, no failed request', async () => {
    const role = await bao.createApproleRole('revocable', ['reader'], { tokenTtl: '1h' });
    registerSecrets([role.secretId]);
    const gw = await startTestGateway({
      config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId }] },
    });
    try {
      assert.equal((await timed(gw, '/v1/variables/team/a')).status, 200);
      assert.equal(vaultLogins(gw), 1);
      // Revoke every token approle issued (as an operator, or an expiry, would).
      await bao.write('sys/leases/revoke-prefix/auth/approle/login', {}, 'PUT');
      const results = await Promise.all(Array.from({ length: 20 }, () => timed(gw, '/v1/variables/team/a')));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.equal(vaultLogins(gw), 2, 'exactly one re-login for 20 concurrent requests');
      // A real denial (a path the policy does not grant) is access_denied, and does not log in again.
      await bao.enableKvV1('other');
      await bao.putSecret('other', 'variables/x', { value: 'no' }, 1);
      const gw2 = await startTestGateway({
        config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id: role.secretId, mount_point: 'other', kv_engine_version: 1 }] },
      });
      const denied = await timed(gw2, '/v1/variables/x');
      assert.equal(denied.status, 503);
      assert.equal(denied.body.failed_backends[0].code, 'access_denied');
      assert.equal(vaultLogins(gw2), 1);
      await gw2.close();
    } finally {
      await gw.close();
    }
  });

  it('auth: token_path, userpass and kubernetes (against a loopback TokenReview server); a bad credential is `failed`', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'token'), `${bao.rootToken}\n`);
    await bao.enableUserpass();
    await bao.createUser('airflow', 'userpass-pw', ['reader']);
    const tr = await startTokenReviewServer();
    await bao.enableKubernetes(tr);
    await bao.createKubernetesRole('airflow', { names: ['worker'], namespaces: ['airflow'] }, ['reader']);
    const jwt = tr.issueToken('airflow', 'worker');
    registerSecrets(['userpass-pw', jwt.jwt]);
    writeFileSync(path.join(dir, 'jwt'), jwt.jwt);
    const cases: Array<[string, Record<string, unknown>]> = [
      ['token_path', { token_path: path.join(dir, 'token') }],
      ['userpass', { auth_type: 'userpass', username: 'airflow', password: 'userpass-pw' }],
      ['kubernetes', { auth_type: 'kubernetes', kubernetes_role: 'airflow', kubernetes_jwt_path: path.join(dir, 'jwt') }],
    ];
    try {
      for (const [label, auth] of cases) {
        const gw = await startTestGateway({ config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, ...auth }] } });
        const res = await timed(gw, '/v1/connections/pg');
        assert.equal(res.status, 200, `${label}: ${JSON.stringify(res.body)}`);
        assert.ok(!gw.logs.join('').includes('userpass-pw'), 'the password is not logged');
        await gw.close();
      }
      const bad = await startTestGateway({ config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, auth_type: 'userpass', username: 'airflow', password: 'wrong' }] } });
      const ready = await bad.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().backends[0].state, 'failed');
      assert.equal(ready.json().backends[0].error.code, 'auth_failed');
      await bad.close();
    } finally {
      await tr.stop();
    }
  });

  it('mount_point null: the first segment of the id is the mount; an id without "/" is not asked', async () => {
    const gw = await startTestGateway({ config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, token: bao.rootToken, mount_point: null }] } });
    try {
      assert.equal((await timed(gw, '/v1/connections/secret/pg')).body.host, 'db');
      assert.equal((await timed(gw, '/v1/connections/pg')).status, 404);
      assert.equal((await timed(gw, '/v1/variables/secret/team/a')).body.value, 'A');
    } finally {
      await gw.close();
    }
  });

  it('a secret\'s JSON is read as Python\'s json.loads reads it: 30.0 stays a float, a big int exact, keys in Vault\'s order', async () => {
    // KV v1 gives back the JSON as written, its keys sorted ("10" before "9") (KV v2 passes numbers through
    // float64). JSON.parse would move "9" first, write 30 and round the int; Airflow (hvac's json) does none of that.
    await bao.enableKvV1('exact');
    const written = await fetch(`${bao.url}/v1/exact/connections/exact`, {
      method: 'POST',
      headers: { 'x-vault-token': bao.rootToken, 'content-type': 'application/json' },
      body: '{"conn_type": "http", "host": "h", "extra": {"9": "b", "10": "a", "big": 12345678901234567890, "timeout": 30.0}}',
    });
    assert.equal(written.status, 204);
    const gw = await startTestGateway({ config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, token: bao.rootToken, mount_point: 'exact', kv_engine_version: 1 }] } });
    try {
      const res = await gw.inject({ url: '/v1/connections/exact?format=uri' });
      // What Airflow 3.3's Connection.from_json(...).get_uri() gives for the same JSON.
      assert.equal(res.json().uri, 'http://h/?__extra__=%7B%2210%22%3A+%22a%22%2C+%229%22%3A+%22b%22%2C+%22big%22%3A+12345678901234567890%2C+%22timeout%22%3A+30.0%7D');
    } finally {
      await gw.close();
    }
  });

  it('KV v2 versions: Found carries the version (number and created_time) and getVersion reads the same from metadata', async () => {
    const gw = await startTestGateway({ config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, token: bao.rootToken }] } });
    try {
      const backend = gw.chain.links[0]!.backend;
      await bao.putSecret('secret', 'variables/versioned', { value: 'one' }, 2);
      const first = await backend.getVariable('versioned');
      assert.equal(await backend.getVersion!('variable', 'versioned'), first!.version);
      await bao.putSecret('secret', 'variables/versioned', { value: 'two' }, 2);
      const second = await backend.getVariable('versioned');
      const number = (identity: string | undefined) => Number(identity!.split('@')[0]);
      assert.match(first!.version!, /^\d+@\d{4}-\d\d-\d\dT[\d:.]+Z$/);
      assert.equal(number(second!.version), number(first!.version) + 1);
      assert.equal(await backend.getVersion!('variable', 'versioned'), second!.version);
      assert.equal(await backend.getVersion!('variable', 'never-stored'), null);
    } finally {
      await gw.close();
    }
  });

  it('a conn_uri of 0.0 is falsy, as in Airflow: the field dict is read, and its conn_uri key fails Connection(**data)', async () => {
    // VaultBackend.get_connection: `if uri: Connection(conn_id, uri=uri)` else `Connection(conn_id, **response)`,
    // which raises TypeError on the conn_uri keyword. KV v1 keeps the float literal 0.0 as written (KV v2 would make it 0).
    await bao.enableKvV1('zerofloat');
    const write = (id: string, body: string) =>
      fetch(`${bao.url}/v1/zerofloat/connections/${id}`, { method: 'POST', headers: { 'x-vault-token': bao.rootToken, 'content-type': 'application/json' }, body });
    assert.equal((await write('zero_float', '{"conn_uri": 0.0, "conn_type": "http", "host": "h"}')).status, 204);
    assert.equal((await write('one_half', '{"conn_uri": 1.5, "conn_type": "http", "host": "h"}')).status, 204);
    const gw = await startTestGateway({
      config: { cache: { enabled: false }, backends: [{ type: 'vault', url: bao.url, token: bao.rootToken, mount_point: 'zerofloat', kv_engine_version: 1 }] },
    });
    try {
      const backend = gw.chain.links[0]!.backend;
      await assert.rejects(backend.getConnection('zero_float'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'invalid_value');
        assert.match(err.message, /\(unknown_keys\)/, 'parsed as the field dict, not taken as a URI');
        return true;
      });
      // A truthy conn_uri is taken as the URI, and one that is not a string cannot be.
      await assert.rejects(backend.getConnection('one_half'), /a stored conn_uri is not a string/);
      const res = await gw.inject({ url: '/v1/connections/zero_float' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json().failed_backends, [{ name: backend.name, code: 'invalid_value' }]);
    } finally {
      await gw.close();
    }
  });
});

/** A loopback proxy that answers the first `throttle` requests with ThrottlingException, then forwards to moto. */
async function throttlingProxy(target: string, throttle: () => boolean): Promise<{ url: string; server: Server; seen: () => number }> {
  let seen = 0;
  const server = createServer((req, res) => {
    seen += 1;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (throttle()) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' });
        res.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
        return;
      }
      const up = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, server, seen: () => seen };
}

describe('AWS Secrets Manager behind a throttling proxy, and a backend that hangs', () => {
  it('ThrottlingException is retried with backoff, then succeeds; persistent throttling is a clear error, bounded', async () => {
    const moto = await startMoto();
    const sm = moto.secretsManagerClient();
    await sm.send(new CreateSecretCommand({ Name: 'airflow/variables/throttled', SecretString: 'finally' }));
    let remaining = 2;
    const proxy = await throttlingProxy(moto.url, () => remaining-- > 0);
    const gw = await startTestGateway({ config: { cache: { enabled: false }, backends: [awsBackendConfig(proxy.url, { max_retries: 3 })] } });
    try {
      const ok = await timed(gw, '/v1/variables/throttled');
      assert.equal(ok.status, 200);
      assert.equal(ok.body.value, 'finally');
      assert.equal(proxy.seen(), 3, 'two throttled attempts, then the answer');
      assert.ok(gw.logs.join('').includes('retrying a transient backend failure'));

      remaining = Infinity;
      const before = proxy.seen();
      const throttled = await timed(gw, '/v1/variables/throttled');
      assert.equal(throttled.status, 503);
      assert.equal(throttled.body.failed_backends[0].code, 'throttled');
      assert.equal(proxy.seen() - before, 4, 'one attempt and max_retries=3 retries, no more');
      assert.ok(throttled.ms < 5000, `bounded: ${throttled.ms.toFixed(0)} ms`);
    } finally {
      await gw.close();
      proxy.server.close();
      sm.destroy();
      await moto.dispose();
    }
  });

  it('a backend that accepts connections and never answers: the timeout holds and latency stays bounded', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const hang = createServer(() => {}); // reads the request, never answers
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
    const gw = await startTestGateway({
      env: { AIRFLOW_VAR_FALLBACK: 'from-env' },
      config: {
        cache: { enabled: false },
        backends: [
          awsBackendConfig(url, { name: 'aws_hang', timeout_seconds: 0.5, circuit_breaker_failures: 2 }),
          { type: 'vault', name: 'vault_hang', url, token: 't', timeout_seconds: 0.5 },
          { type: 'environment' },
        ],
      },
    });
    try {
      const first = await timed(gw, '/v1/variables/fallback');
      // Both hanging backends are abandoned at 0.5 s each, then the environment answers.
      assert.equal(first.status, 200);
      assert.equal(first.body.value, 'from-env');
      assert.ok(first.ms >= 900 && first.ms < 2500, `two 0.5 s deadlines: ${first.ms.toFixed(0)} ms`);
      const missing = await timed(gw, '/v1/variables/nowhere');
      assert.equal(missing.status, 503);
      assert.deepEqual(missing.body.failed_backends.map((f: { code: string }) => f.code).sort(), ['timeout', 'timeout']);
      // aws_hang's breaker is now open (2 failures): it answers at once.
      const third = await timed(gw, '/v1/variables/nowhere');
      assert.equal(third.body.failed_backends.find((f: { name: string }) => f.name === 'aws_hang').code, 'circuit_open');
      assert.ok(third.ms < 1200, `only vault_hang's deadline is left: ${third.ms.toFixed(0)} ms`);
    } finally {
      await gw.close();
      for (const s of sockets) s.destroy();
      hang.close();
    }
  });
});
