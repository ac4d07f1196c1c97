// `secrets-gateway connections set|delete` and `variables set|delete`, the installed command
// (bin/secrets-gateway.js on the built dist/), against a running gateway with an overlay target
// in a real Redis: flags as `airflow connections add`, plus --ttl, --if-match and --create-only.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { registerSecrets, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { runCli } from '../helpers/cli.ts';
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';

const PASSWORD = `cli-${randomBytes(8).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');
registerSecrets([PASSWORD, KEY]);

const cli = runCli;

describe('secrets-gateway connections|variables set|delete', () => {
  let redis: RedisServer;
  let gw: TestGateway;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    redis = await startRedis();
    gw = await startTestGateway({
      env: { SECRETS_GATEWAY_OVERLAY_KEY: KEY },
      config: { backends: [{ type: 'overlay', redis_url: redis.url, writable: true, max_ttl_seconds: 3600 }], writes: { target: 'overlay' } },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const address = gw.app.server.address() as { port: number };
    env = { SECRETS_GATEWAY_URL: `http://127.0.0.1:${address.port}`, SECRETS_GATEWAY_TOKEN: gw.token(['connections:write:*', 'variables:write:*', 'connections:read:*', 'variables:read:*']) };
  });
  after(async () => {
    await gw?.close();
    await redis?.dispose();
  });

  const get = async (kind: string, id: string) => gw.inject({ method: 'GET', url: `/v1/${kind}/${id}` });

  it('sets a connection from --conn-* fields with --ttl, and it is served with its expiry', async () => {
    const res = await cli(
      ['connections', 'set', 'team_a/warehouse', '--conn-type', 'postgres', '--conn-host', 'scratch-db', '--conn-login', 'etl', '--conn-password', PASSWORD, '--conn-port', '5432', '--conn-extra', '{"sslmode": "require"}', '--ttl', '600'],
      env,
    );
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.backend, 'overlay');
    assert.equal(out.created, true);
    assert.ok(!res.stdout.includes(PASSWORD) && !res.stderr.includes(PASSWORD));
    const read = await get('connections', 'team_a/warehouse');
    assert.deepEqual(read.json(), { conn_id: 'team_a/warehouse', conn_type: 'postgres', description: null, host: 'scratch-db', login: 'etl', password: PASSWORD, schema: null, port: 5432, extra: { sslmode: 'require' } });
    assert.ok(read.headers['x-secret-expires']);

    // --create-only on an existing id, and a stale --if-match: refused, exit 1, the problem code on stderr.
    const again = await cli(['connections', 'set', 'team_a/warehouse', '--conn-uri', 'postgres://other@h/db', '--create-only'], env);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /HTTP 412 precondition_failed/);
    const stale = await cli(['connections', 'set', 'team_a/warehouse', '--conn-uri', 'postgres://other@h/db', '--if-match', 'not-the-version'], env);
    assert.equal(stale.status, 1);
    const current = await cli(['connections', 'set', 'team_a/warehouse', '--conn-uri', 'postgres://other@h/db', '--if-match', out.version], env);
    assert.equal(current.status, 0, current.stderr);
    assert.equal((await get('connections', 'team_a/warehouse')).json().host, 'h');

    const deleted = await cli(['connections', 'delete', 'team_a/warehouse'], env);
    assert.equal(deleted.status, 0, deleted.stderr);
    assert.equal((await get('connections', 'team_a/warehouse')).statusCode, 404);
  });

  it('sets a connection from --conn-json and refuses mixed or missing forms (exit 2)', async () => {
    const res = await cli(['connections', 'set', 'json_conn', '--conn-json', '{"conn_type": "http", "host": "api.internal"}'], env);
    assert.equal(res.status, 0, res.stderr);
    assert.equal((await get('connections', 'json_conn')).json().host, 'api.internal');
    assert.equal((await cli(['connections', 'set', 'x', '--conn-uri', 'http://h', '--conn-type', 'http'], env)).status, 2);
    assert.equal((await cli(['connections', 'set', 'x'], env)).status, 2);
    assert.equal((await cli(['connections', 'set', 'x', '--conn-uri', 'http://h'], { SECRETS_GATEWAY_URL: env.SECRETS_GATEWAY_URL })).status, 2, 'no token');
  });

  it('sets and deletes a variable; a read-only token gets 403', async () => {
    const set = await cli(['variables', 'set', 'feature_flag', 'on', '--ttl', '60'], env);
    assert.equal(set.status, 0, set.stderr);
    assert.equal((await get('variables', 'feature_flag')).json().value, 'on');
    const readOnly = await cli(['variables', 'set', 'feature_flag', 'off'], { ...env, SECRETS_GATEWAY_TOKEN: gw.token(['variables:read:*']) });
    assert.equal(readOnly.status, 1);
    assert.match(readOnly.stderr, /HTTP 403 forbidden/);
    assert.equal((await cli(['variables', 'delete', 'feature_flag'], env)).status, 0);
    assert.equal((await get('variables', 'feature_flag')).statusCode, 404);
    assert.equal((await cli(['variables', 'delete', 'feature_flag'], env)).status, 1, 'deleting what is not there');
  });
});
