// The write API (issue 17) on real servers: OpenBao (KV v2 with check-and-set) and Redis (the overlay
// backend and the invalidation channel), with two gateway replicas sharing both.
//   write → read back equal → overwrite with If-Match → stale If-Match 412 → If-None-Match 412 → delete → 404;
//   a write on one replica is served by the other within 1 s; an overlay entry with ttl_seconds=2 is gone
//   from both after expiry and the value underneath is served again; a read-only token gets 403 on every
//   write route, audited; resolution shows a shadowed id and a write there gets 409; with Redis down the
//   write lands, the response says the fan-out failed and /readyz shows the channel degraded.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SecretWriter } from '../../src/backends/types.ts';
import { registerSecrets, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startOpenBao, type OpenBaoServer } from '../helpers/servers/openbao.ts';
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';

const WRITE_ALL = ['connections:read:*', 'variables:read:*', 'connections:write:*', 'variables:write:*', 'backends:read'];
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const PASSWORD_2 = `pw2-${randomBytes(8).toString('hex')}`;
const OVERLAY_PASSWORD = `ov-${randomBytes(8).toString('hex')}`;
const VAR_VALUE = `var-${randomBytes(8).toString('hex')}`;
const OVERLAY_KEY = randomBytes(32).toString('base64');
const VERSION_KEY = randomBytes(32).toString('hex');
registerSecrets([PASSWORD, PASSWORD_2, OVERLAY_PASSWORD, VAR_VALUE, OVERLAY_KEY, VERSION_KEY, 'shadow-env-pw-1']);

/** Polls until `check` passes or `ms` runs out; returns the time it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await sleep(25);
  }
  throw new Error(`not within ${ms} ms`);
}

describe('write API on OpenBao KV v2, two replicas over Redis', () => {
  let bao: OpenBaoServer;
  let redis: RedisServer;
  let one: TestGateway;
  let two: TestGateway;
  const replica = (dir?: string) =>
    startTestGateway({
      ...(dir ? { dir } : {}),
      env: { AIRFLOW_CONN_SHADOWED: 'postgres://env:shadow-env-pw-1@db.example/x' },
      config: {
        cache: { redis_url: redis.url, version_key: VERSION_KEY },
        backends: [{ type: 'environment' }, { type: 'vault', url: bao.url, token: bao.rootToken, writable: true }],
        writes: { target: 'vault' },
        // The multi-tenant example of docs/writes.md.
        auth: { policies: [{ match: { team: '*' }, grants: ['connections:read:${team}/*', 'connections:write:${team}/*'] }] },
      },
    });
  before(async () => {
    [bao, redis] = await Promise.all([startOpenBao(), startRedis()]);
    [one, two] = await Promise.all([replica(), replica()]);
    await within(5000, async () => (await one.inject({ method: 'GET', url: '/readyz' })).json().invalidation?.state === 'ready');
    await within(5000, async () => (await two.inject({ method: 'GET', url: '/readyz' })).json().invalidation?.state === 'ready');
  });
  after(async () => {
    await Promise.allSettled([one?.close(), two?.close()]);
    await Promise.allSettled([bao?.dispose(), redis?.dispose()]);
  });

  const auth = (gw: TestGateway, scopes = WRITE_ALL) => ({ authorization: `Bearer ${gw.token(scopes, { sub: 'writer-1' })}` });

  it('writes a connection, reads it back equal, overwrites with If-Match, refuses a stale one, deletes it', async () => {
    const fields = { conn_type: 'postgres', host: 'db.internal', login: 'etl', password: PASSWORD, schema: 'warehouse', port: 5432, extra: { sslmode: 'require', n: 1 }, description: 'scratch' };
    const created = await one.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: auth(one), payload: fields });
    assert.equal(created.statusCode, 201, created.body);
    const etag = created.headers.etag as string;
    assert.equal(etag, `"${created.json().version}"`);
    assert.equal(created.headers['x-secret-version'], created.json().version);
    assert.equal(created.json().backend, 'vault');
    assert.equal(created.json().fanout, 'published');
    assert.ok(!created.body.includes(PASSWORD));

    const read = await one.inject({ method: 'GET', url: '/v1/connections/warehouse', headers: auth(one) });
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), { conn_id: 'warehouse', ...fields });
    assert.equal(read.headers['x-secret-version'], created.json().version, 'GET shows the version the write returned');
    // What Airflow's VaultBackend reads: the field dict at secret/connections/warehouse.
    assert.equal((await bao.getSecret('secret', 'connections/warehouse', 2))?.password, PASSWORD);

    const updated = await one.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...auth(one), 'if-match': etag }, payload: { ...fields, password: PASSWORD_2 } });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.equal(updated.json().created, false);
    assert.notEqual(updated.json().version, created.json().version);

    const stale = await one.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...auth(one), 'if-match': etag }, payload: fields });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().code, 'precondition_failed');
    const createOnly = await one.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...auth(one), 'if-none-match': '*' }, payload: fields });
    assert.equal(createOnly.statusCode, 412);
    const staleDelete = await one.inject({ method: 'DELETE', url: '/v1/connections/warehouse', headers: { ...auth(one), 'if-match': etag } });
    assert.equal(staleDelete.statusCode, 412);
    assert.equal((await one.inject({ method: 'GET', url: '/v1/connections/warehouse', headers: auth(one) })).json().password, PASSWORD_2);

    const deleted = await one.inject({ method: 'DELETE', url: '/v1/connections/warehouse', headers: { ...auth(one), 'if-match': updated.headers.etag as string } });
    assert.equal(deleted.statusCode, 200, deleted.body);
    assert.equal(deleted.json().deleted, true);
    assert.equal((await one.inject({ method: 'GET', url: '/v1/connections/warehouse', headers: auth(one) })).statusCode, 404);
    assert.equal((await one.inject({ method: 'DELETE', url: '/v1/connections/warehouse', headers: auth(one) })).statusCode, 404);
    // Created again after a delete (If-None-Match: * passes now).
    const again = await one.inject({ method: 'PUT', url: '/v1/connections/warehouse', headers: { ...auth(one), 'if-none-match': '*' }, payload: { uri: 'postgres://etl@db.internal:5432/warehouse' } });
    assert.equal(again.statusCode, 201, again.body);
    assert.equal((await one.inject({ method: 'GET', url: '/v1/connections/warehouse', headers: auth(one) })).json().password, null);
    assert.deepEqual(one.contractProblems, []);
  });

  it("a change made between the read and the write fails the write (KV v2's cas), and is kept", async () => {
    const vault = one.chain.links[1]!.backend as unknown as SecretWriter;
    await vault.put('variable', 'raced', { kind: 'variable', value: 'first' }, { cas: null });
    const seen = await vault.current('variable', 'raced');
    await bao.putSecret('secret', 'variables/raced', { value: 'changed-meanwhile' }, 2);
    await assert.rejects(vault.put('variable', 'raced', { kind: 'variable', value: 'lost-update' }, { cas: seen!.cas }), (err: Error & { code?: string }) => err.code === 'precondition_failed');
    await assert.rejects(vault.put('variable', 'raced', { kind: 'variable', value: 'x' }, { cas: null }), (err: Error & { code?: string }) => err.code === 'precondition_failed', 'create only');
    assert.equal((await vault.current('variable', 'raced'))!.value, 'changed-meanwhile');
  });

  it('refuses a connection the Airflow model refuses, and changes nothing', async () => {
    const bad = await one.inject({ method: 'PUT', url: '/v1/connections/bad', headers: auth(one), payload: { conn_type: 'postgres', extra: '[1, 2]' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'invalid_connection');
    const both = await one.inject({ method: 'PUT', url: '/v1/connections/bad', headers: auth(one), payload: { conn_type: 'postgres', uri: 'postgres://x' } });
    assert.equal(both.statusCode, 400);
    const ttl = await one.inject({ method: 'PUT', url: '/v1/variables/bad?ttl_seconds=5', headers: auth(one), payload: { value: 'x' } });
    assert.equal(ttl.json().code, 'ttl_not_supported');
    assert.equal((await one.inject({ method: 'GET', url: '/v1/connections/bad', headers: auth(one) })).statusCode, 404);
  });

  it('a write on one replica is served by the other within 1 s', async () => {
    await one.inject({ method: 'PUT', url: '/v1/variables/shared', headers: auth(one), payload: { value: 'before' } });
    await sleep(200); // that write's invalidation reaches the other replica first
    assert.equal((await two.inject({ method: 'GET', url: '/v1/variables/shared', headers: auth(two) })).json().value, 'before');
    assert.equal((await two.inject({ method: 'GET', url: '/v1/variables/shared', headers: auth(two) })).headers['x-cache'], 'hit');
    const put = await one.inject({ method: 'PUT', url: '/v1/variables/shared', headers: auth(one), payload: { value: VAR_VALUE } });
    assert.equal(put.statusCode, 200);
    const ms = await within(1000, async () => (await two.inject({ method: 'GET', url: '/v1/variables/shared', headers: auth(two) })).json().value === VAR_VALUE);
    assert.ok(ms < 1000, `served by the other replica after ${ms} ms`);
    const del = await two.inject({ method: 'DELETE', url: '/v1/variables/shared', headers: auth(two) });
    assert.equal(del.statusCode, 200);
    await within(1000, async () => (await one.inject({ method: 'GET', url: '/v1/variables/shared', headers: auth(one) })).statusCode === 404);
  });

  it('a token with read grants only gets 403 on every write route, audited', async () => {
    const readOnly = { authorization: `Bearer ${one.token(['connections:read:*', 'variables:read:*'], { sub: 'reader-only' })}` };
    for (const [method, url, payload] of [
      ['PUT', '/v1/connections/ro', { conn_type: 'http' }],
      ['DELETE', '/v1/connections/ro', undefined],
      ['PUT', '/v1/variables/ro', { value: 'x' }],
      ['DELETE', '/v1/variables/ro', undefined],
      ['GET', '/v1/connections/ro/resolution', undefined],
      ['GET', '/v1/variables/ro/resolution', undefined],
    ] as const) {
      const res = await one.inject({ method, url, headers: readOnly, ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.equal(res.json().code, 'forbidden');
    }
    // Policy denies apply to writes as to reads.
    const res = await one.inject({ method: 'PUT', url: '/v1/variables/prod_x', headers: { authorization: `Bearer ${one.token(['variables:write:team_*'], { sub: 'team-writer' })}` }, payload: { value: 'x' } });
    assert.equal(res.statusCode, 403);
  });

  it("multi-tenant: a team's token writes its own connections and gets 403 on another team's", async () => {
    const teamA = { authorization: `Bearer ${one.token([], { sub: 'team-a-ci', team: 'team_a' })}` };
    const own = await one.inject({ method: 'PUT', url: '/v1/connections/team_a/warehouse', headers: teamA, payload: { conn_type: 'postgres', host: 'db.team-a.internal' } });
    assert.equal(own.statusCode, 201, own.body);
    assert.equal((await one.inject({ method: 'GET', url: '/v1/connections/team_a/warehouse', headers: teamA })).json().host, 'db.team-a.internal');
    const other = await one.inject({ method: 'PUT', url: '/v1/connections/team_b/warehouse', headers: teamA, payload: { conn_type: 'postgres', host: 'x' } });
    assert.equal(other.statusCode, 403);
    assert.equal((await one.inject({ method: 'DELETE', url: '/v1/connections/team_b/warehouse', headers: teamA })).statusCode, 403);
    assert.equal((await one.inject({ method: 'DELETE', url: '/v1/connections/team_a/warehouse', headers: teamA })).statusCode, 200);
  });

  it('resolution shows a shadowed id, and a write to the shadowed target gets 409 unless allowed', async () => {
    const refused = await one.inject({ method: 'PUT', url: '/v1/connections/shadowed', headers: auth(one), payload: { conn_type: 'postgres', host: 'vault-db' } });
    assert.equal(refused.statusCode, 409);
    assert.equal(refused.json().code, 'shadowed');
    assert.equal(refused.json().backend, 'environment');
    const allowed = await one.inject({ method: 'PUT', url: '/v1/connections/shadowed?allow_shadowed=true', headers: auth(one), payload: { conn_type: 'postgres', host: 'vault-db' } });
    assert.equal(allowed.statusCode, 201, allowed.body);
    const resolution = await one.inject({ method: 'GET', url: '/v1/connections/shadowed/resolution', headers: auth(one) });
    assert.equal(resolution.statusCode, 200, resolution.body);
    const body = resolution.json();
    assert.equal(body.winner, 'environment');
    assert.deepEqual(body.shadowed, ['vault']);
    assert.deepEqual(body.backends.map((b: { backend: string; answer: string; wins: boolean }) => [b.backend, b.answer, b.wins]), [['environment', 'found', true], ['vault', 'found', false]]);
    assert.match(body.backends[1].version, /^\d+@/, "the vault step carries KV v2's version identity");
    assert.ok(!resolution.body.includes('shadow-env-pw-1'));
    // The read path counts it: a lookup won by environment while the writes target holds the id too.
    await one.inject({ method: 'GET', url: '/v1/connections/shadowed', headers: { ...auth(one), 'cache-control': 'no-cache' } });
    await within(2000, async () => (await one.metrics.registry.getSingleMetricAsString('secrets_gateway_shadowed_reads_total')).includes('shadowed="vault"'));
    const writes = await one.metrics.registry.getSingleMetricAsString('secrets_gateway_writes_total');
    assert.match(writes, /kind="connection",operation="put",outcome="shadowed"\} 1/);
    assert.match(writes, /kind="connection",operation="put",outcome="written"\} \d+/);
    assert.deepEqual(one.contractProblems, []);
  });

  it('audits every write with its subject, the target and the fingerprints before and after, never a value', async () => {
    await sleep(300); // the audit sink writes its batch within a few milliseconds
    const events = one.auditEvents().filter((e) => typeof e.action === 'string' && (e.action as string).endsWith(':write'));
    const written = events.find((e) => e.subject === 'writer-1' && e.id === 'warehouse' && e.method === 'PUT' && e.status === 200);
    assert.ok(written, 'the overwrite is audited');
    assert.equal(written.backend, 'vault');
    assert.match(String(written.old_fingerprint), /^hmac-sha256:/);
    assert.match(String(written.new_fingerprint), /^hmac-sha256:/);
    assert.notEqual(written.old_fingerprint, written.new_fingerprint);
    const denied = events.filter((e) => e.subject === 'reader-only');
    assert.equal(denied.length, 4);
    for (const e of denied) {
      assert.equal(e.decision, 'deny');
      assert.equal(e.backend, 'vault', 'a refused write names the target it would have changed');
    }
    const text = JSON.stringify(events);
    for (const secret of [PASSWORD, PASSWORD_2, VAR_VALUE]) assert.ok(!text.includes(secret));
  });

  it('with Redis down the write lands, the response says the fan-out failed, and /readyz shows the channel degraded', async () => {
    await redis.stop();
    try {
      await within(5000, async () => (await one.inject({ method: 'GET', url: '/readyz' })).json().invalidation?.state === 'degraded');
      const put = await one.inject({ method: 'PUT', url: '/v1/variables/during_outage', headers: auth(one), payload: { value: 'landed' } });
      assert.equal(put.statusCode, 201, put.body);
      assert.equal(put.json().fanout, 'unavailable');
      assert.equal((await one.inject({ method: 'GET', url: '/v1/variables/during_outage', headers: auth(one) })).json().value, 'landed');
    } finally {
      await redis.restart();
    }
  });
});

describe('overlay backend: ephemeral overrides in Redis, on top of OpenBao', () => {
  let bao: OpenBaoServer;
  let redis: RedisServer;
  let one: TestGateway;
  let two: TestGateway;
  const replica = () =>
    startTestGateway({
      env: { SECRETS_GATEWAY_OVERLAY_KEY: OVERLAY_KEY },
      config: {
        cache: { redis_url: redis.url, version_key: VERSION_KEY },
        backends: [
          { type: 'overlay', redis_url: redis.url, writable: true, max_ttl_seconds: 600 },
          { type: 'vault', url: bao.url, token: bao.rootToken },
        ],
        writes: { target: 'overlay' },
      },
    });
  before(async () => {
    [bao, redis] = await Promise.all([startOpenBao(), startRedis()]);
    await bao.putSecret('secret', 'connections/warehouse', { conn_type: 'postgres', host: 'prod-db', password: PASSWORD }, 2);
    [one, two] = await Promise.all([replica(), replica()]);
    await within(5000, async () => (await two.inject({ method: 'GET', url: '/readyz' })).json().invalidation?.state === 'ready');
  });
  after(async () => {
    await Promise.allSettled([one?.close(), two?.close()]);
    await Promise.allSettled([bao?.dispose(), redis?.dispose()]);
  });

  const auth = (gw: TestGateway) => ({ authorization: `Bearer ${gw.token(WRITE_ALL)}` });
  const host = async (gw: TestGateway) => (await gw.inject({ method: 'GET', url: '/v1/connections/warehouse', headers: auth(gw) })).json().host;

  it('an override with ttl_seconds=2 shadows the chain on both replicas, then vanishes and the value underneath is served again', async () => {
    assert.equal(await host(one), 'prod-db');
    assert.equal(await host(two), 'prod-db');
    const put = await one.inject({ method: 'PUT', url: '/v1/connections/warehouse?ttl_seconds=2', headers: auth(one), payload: { conn_type: 'postgres', host: 'scratch-db', password: OVERLAY_PASSWORD } });
    assert.equal(put.statusCode, 201, put.body);
    assert.ok(put.json().expires);
    // Encrypted at rest: Redis holds no plain text of the value.
    const raw = await redis.command('GET', 'secrets-gateway:overlay:connection:warehouse');
    assert.ok(!raw.includes(OVERLAY_PASSWORD) && !raw.includes('scratch-db'));
    await within(1000, async () => (await host(two)) === 'scratch-db');
    const read = await two.inject({ method: 'GET', url: '/v1/connections/warehouse', headers: auth(two) });
    assert.equal(read.headers['x-secret-source'], 'overlay');
    assert.ok(Math.abs(Date.parse(read.headers['x-secret-expires'] as string) - Date.parse(put.json().expires)) < 1000);
    await sleep(2100);
    await within(1000, async () => (await host(one)) === 'prod-db' && (await host(two)) === 'prod-db');
    assert.deepEqual(one.contractProblems, []);
  });

  it("a change made between the read and the write fails the write (the overlay's Redis script)", async () => {
    const overlay = one.chain.links[0]!.backend as unknown as SecretWriter;
    await overlay.put('variable', 'raced', { kind: 'variable', value: 'first' }, { cas: null, ttlSeconds: 60 });
    const seen = await overlay.current('variable', 'raced');
    await two.inject({ method: 'PUT', url: '/v1/variables/raced', headers: auth(two), payload: { value: 'changed-meanwhile' } });
    await assert.rejects(overlay.put('variable', 'raced', { kind: 'variable', value: 'lost-update' }, { cas: seen!.cas }), (err: Error & { code?: string }) => err.code === 'precondition_failed');
    await assert.rejects(overlay.delete('variable', 'raced', { cas: seen!.cas }), (err: Error & { code?: string }) => err.code === 'precondition_failed');
    assert.equal((await overlay.current('variable', 'raced'))!.value, 'changed-meanwhile');
  });

  it('refuses a ttl past max_ttl_seconds', async () => {
    const res = await one.inject({ method: 'PUT', url: '/v1/variables/x?ttl_seconds=601', headers: auth(one), payload: { value: 'x' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'ttl_too_long');
  });

  it('variables: write, read back, If-Match, delete', async () => {
    const put = await one.inject({ method: 'PUT', url: '/v1/variables/feature_flag', headers: auth(one), payload: { value: VAR_VALUE } });
    assert.equal(put.statusCode, 201, put.body);
    const read = await two.inject({ method: 'GET', url: '/v1/variables/feature_flag', headers: auth(two) });
    assert.equal(read.json().value, VAR_VALUE);
    assert.equal(read.headers['x-secret-version'], put.json().version);
    const over = await two.inject({ method: 'PUT', url: '/v1/variables/feature_flag', headers: { ...auth(two), 'if-match': put.headers.etag as string }, payload: { value: 'v2' } });
    assert.equal(over.statusCode, 200);
    const stale = await one.inject({ method: 'PUT', url: '/v1/variables/feature_flag', headers: { ...auth(one), 'if-match': put.headers.etag as string }, payload: { value: 'v3' } });
    assert.equal(stale.statusCode, 412);
    assert.equal((await one.inject({ method: 'DELETE', url: '/v1/variables/feature_flag', headers: auth(one) })).statusCode, 200);
    assert.equal((await one.inject({ method: 'GET', url: '/v1/variables/feature_flag', headers: auth(one) })).statusCode, 404);
  });
});
