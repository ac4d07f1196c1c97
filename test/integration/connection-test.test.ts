// POST /v1/connections/{id}/test against real PostgreSQL, Redis and HTTP servers, a
// closed port and an unresolvable (.invalid) host; critical_connections in /readyz;
// GET /v1/backends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway, READ_ALL } from '../helpers/gateway.ts';
import { freePort } from '../helpers/servers/common.ts';
import { startHttpServer, type HttpServer } from '../helpers/servers/http.ts';
import { startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';

/** A token that may test connections and read backend states, besides reading secrets. */
const operator = (gw: TestGateway) => ({ authorization: `Bearer ${gw.token([...READ_ALL, 'connections:test:*', 'backends:read'])}` });
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';

const PASSWORD = 'conn-test-SECRET-9931';

describe('connection validation on real servers', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let web: HttpServer;
  let gw: TestGateway;
  let closedPort: number;

  before(async () => {
    [pg, redis, web, closedPort] = await Promise.all([startPostgres(), startRedis(), startHttpServer(), freePort()]);
    gw = await startTestGateway({
      env: {
        AIRFLOW_CONN_PG: `postgres://airflow:${PASSWORD}@127.0.0.1:${pg.port}/airflow`,
        AIRFLOW_CONN_CACHE: `redis://:${PASSWORD}@127.0.0.1:${redis.port}/0`,
        AIRFLOW_CONN_API: JSON.stringify({ conn_type: 'http', host: '127.0.0.1', port: web.port, password: PASSWORD }),
        AIRFLOW_CONN_CLOSED: `postgres://u:${PASSWORD}@127.0.0.1:${closedPort}/db`,
        AIRFLOW_CONN_NOWHERE: `mysql://u:${PASSWORD}@db.gateway-test.invalid:3306/db`,
        AIRFLOW_CONN_WRONG_PROTOCOL: `postgres://u:${PASSWORD}@127.0.0.1:${web.port}/db`,
        AIRFLOW_CONN_TEAM_DB: `postgres://u:${PASSWORD}@127.0.0.1:${pg.port}/db`,
      },
      config: {
        backends: [{ type: 'environment' }],
        critical_connections: ['pg', 'closed'],
        connection_checks: { timeout_seconds: 1, interval_seconds: 3600 },
      },
    });
  });
  after(async () => {
    assert.deepEqual(gw.contractProblems, [], 'every response matches openapi.yaml');
    assert.ok(!gw.logs.join('').includes(PASSWORD), 'no password in the logs');
    await gw.close();
    await Promise.all([pg.dispose(), redis.dispose(), web.stop()]);
  });

  async function test(connId: string) {
    const res = await gw.inject({ headers: operator(gw), method: 'POST', url: `/v1/connections/${connId}/test` });
    assert.ok(!res.body.includes(PASSWORD), 'never the password');
    const body = res.json();
    return { status: res.statusCode, body, stages: Object.fromEntries((body.stages ?? []).map((s: { stage: string }) => [s.stage, s])) };
  }

  it('postgres: DNS, TCP and the SSLRequest handshake pass', async () => {
    const { status, body, stages } = await test('pg');
    assert.equal(status, 200);
    assert.equal(body.ok, true);
    assert.deepEqual([stages.dns.status, stages.tcp.status, stages.handshake.status], ['ok', 'ok', 'ok']);
    assert.match(stages.handshake.detail, /PostgreSQL answered the SSL request/);
    assert.equal(body.port, pg.port);
    for (const s of body.stages) assert.equal(typeof s.ms, 'number');
  });

  it('redis: PING answered; http: a HEAD request answered', async () => {
    const cache = await test('cache');
    assert.equal(cache.body.ok, true);
    assert.match(cache.stages.handshake.detail, /redis answered PING/);
    const api = await test('api');
    assert.equal(api.body.ok, true);
    assert.equal(api.stages.handshake.detail, 'HTTP 200');
    assert.equal(web.requests.at(-1)?.method, 'HEAD');
    assert.equal(web.requests.at(-1)?.headers.authorization, undefined, 'no credentials sent');
  });

  it('a closed port: TCP fails with ECONNREFUSED, the handshake is not reached', async () => {
    const { body, stages } = await test('closed');
    assert.equal(body.ok, false);
    assert.equal(stages.dns.status, 'ok');
    assert.deepEqual([stages.tcp.status, stages.tcp.detail], ['failed', 'ECONNREFUSED']);
    assert.equal(stages.handshake.status, 'skipped');
  });

  it('an unresolvable host (.invalid): DNS fails, nothing else is tried', async () => {
    const { body, stages } = await test('nowhere');
    assert.equal(body.ok, false);
    assert.equal(stages.dns.status, 'failed');
    assert.match(stages.dns.detail, /ENOTFOUND|EAI_AGAIN/);
    assert.deepEqual([stages.tcp.status, stages.handshake.status], ['skipped', 'skipped']);
  });

  it('the wrong protocol on the port (postgres conn pointed at an HTTP server): the handshake fails', async () => {
    const { body, stages } = await test('wrong_protocol');
    assert.equal(body.ok, false);
    assert.equal(stages.tcp.status, 'ok');
    assert.equal(stages.handshake.status, 'failed');
  });

  it('the 404 and 405 answers around the route', async () => {
    assert.equal((await test('team_db')).body.ok, true);
    const missing = await gw.inject({ headers: operator(gw), method: 'POST', url: '/v1/connections/nope/test' });
    assert.equal(missing.statusCode, 404);
    const notTest = await gw.inject({ headers: operator(gw), method: 'POST', url: '/v1/connections/pg' });
    assert.equal(notTest.statusCode, 405);
    assert.equal(notTest.headers.allow, 'GET, PUT, DELETE, HEAD');
  });

  it('critical_connections: checked at startup; /readyz says degraded while one fails, and which', async () => {
    const ready = await gw.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    const body = ready.json();
    assert.equal(body.status, 'degraded');
    assert.deepEqual(
      body.critical_connections.map((c: { conn_id: string; ok: boolean; failure?: string }) => [c.conn_id, c.ok, c.failure]),
      [['pg', true, undefined], ['closed', false, 'tcp']],
    );
    assert.deepEqual(gw.criticalConnections.states().map((s) => s.ok), [true, false], 'the state the metric reads');
  });

  it('GET /v1/backends lists each backend with its state', async () => {
    const res = await gw.inject({ headers: operator(gw), url: '/v1/backends' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { backends: [{ name: 'environment', type: 'environment', state: 'ready' }] });
  });
});

it('critical_connections with on_failure: fail makes /readyz 503', async () => {
  const port = await freePort();
  const gw = await startTestGateway({
    env: { AIRFLOW_CONN_DOWN: `redis://127.0.0.1:${port}` },
    config: { backends: [{ type: 'environment' }], critical_connections: ['down', 'absent'], connection_checks: { timeout_seconds: 1, on_failure: 'fail' } },
  });
  try {
    const ready = await gw.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(
      ready.json().critical_connections.map((c: { conn_id: string; failure: string }) => [c.conn_id, c.failure]),
      [['down', 'tcp'], ['absent', 'not_found']],
    );
    assert.deepEqual(gw.contractProblems, []);
  } finally {
    await gw.close();
  }
});
