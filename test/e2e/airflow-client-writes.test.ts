// The Python write client inside real Airflow 3.3.2 tasks (issue 17 point 5): `airflow dags test` runs
// test/e2e/dags/gateway_writes_dag.py against a real gateway listening on 127.0.0.1, whose chain is an
// overlay (real Redis, the writes target) in front of local files. One task writes a connection with a ttl
// and a variable through GatewayClient (airflow.sdk.Connection, as DAG code builds one), the next reads them
// with BaseHook and Variable through the worker's SecretsGatewayBackend, a third deletes them (If-Match the
// version the first got, passed by XCom), and the last reads the connection underneath again.
//
// Airflow runs this checkout's client (PYTHONPATH=clients/airflow/src), not the venv's installed copy.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AIRFLOW_BIN, AIRFLOW_PYTHON, AIRFLOW_SKIP, airflowHomeEnv, runCommandOk, sqlAlchemyConn } from '../helpers/airflow.ts';
import { registerSecrets, startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';
import { startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const skip = AIRFLOW_SKIP;

const PASSWORD = `scratch-${randomBytes(8).toString('hex')}`;
const UNDERNEATH_PASSWORD = `real-${randomBytes(8).toString('hex')}`;
const OVERLAY_KEY = randomBytes(32).toString('base64');
registerSecrets([PASSWORD, UNDERNEATH_PASSWORD, OVERLAY_KEY]);

const UNDERNEATH = { conn_type: 'postgres', host: 'warehouse.internal', login: 'etl', password: UNDERNEATH_PASSWORD, schema: 'dwh', port: 5432, extra: {} };

let pg: PostgresServer;
let redis: RedisServer;
let gw: TestGateway;
let home: string;
let env: NodeJS.ProcessEnv;

/** An `airflow` command in this test's Airflow home, with `extraEnv`. */
const airflow = (args: string[], extraEnv: NodeJS.ProcessEnv) =>
  runCommandOk(AIRFLOW_BIN, args, { env: { ...env, ...extraEnv }, cwd: home, hide: [PASSWORD, UNDERNEATH_PASSWORD] });

before(async () => {
  if (skip) return;
  home = tempDir('sg-e2e-client-writes-');
  mkdirSync(path.join(home, 'dags'));
  writeFileSync(path.join(home, 'dags', 'gateway_writes_dag.py'), readFileSync(path.join(HERE, 'dags', 'gateway_writes_dag.py')));
  [pg, redis] = await Promise.all([startPostgres({ database: 'airflow' }), startRedis()]);
  env = airflowHomeEnv(AIRFLOW_PYTHON!, home, {
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: sqlAlchemyConn(pg),
    AIRFLOW__CORE__FERNET_KEY: randomBytes(32).toString('base64url') + '=',
    AIRFLOW__CORE__DAGS_FOLDER: path.join(home, 'dags'),
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: path.join(home, 'logs'),
    AIRFLOW__API_AUTH__JWT_SECRET: randomBytes(16).toString('hex'),
  });
  const migrated = airflow(['db', 'migrate'], {});
  gw = await startTestGateway({
    env: { SECRETS_GATEWAY_OVERLAY_KEY: OVERLAY_KEY },
    config: {
      server: { port: 0 },
      log: { level: 'warn' },
      backends: [
        { type: 'overlay', redis_url: redis.url, writable: true, max_ttl_seconds: 3600 },
        { type: 'local_filesystem', connections_file_path: './connections.json', variables_file_path: './variables.json' },
      ],
      writes: { target: 'overlay' },
    },
    files: { 'connections.json': JSON.stringify({ scratch_db: UNDERNEATH }), 'variables.json': JSON.stringify({}) },
  });
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  // The worker reads with one token; the DAG's tasks write with another, granted only the scratch ids.
  writeFileSync(path.join(home, 'read-token'), `${gw.token(['connections:read:*', 'variables:read:*'], { sub: 'airflow-worker' })}\n`);
  writeFileSync(path.join(home, 'write-token'), `${gw.token(['connections:write:scratch_*', 'variables:write:scratch_*'], { sub: 'dag:gateway_writes' })}\n`);
  const kwargs = JSON.stringify({ url, token_path: path.join(home, 'read-token'), timeout: 10, retries: 1 });
  const backend = 'airflow_secrets_gateway.SecretsGatewayBackend';
  Object.assign(env, {
    AIRFLOW__SECRETS__BACKEND: backend,
    AIRFLOW__SECRETS__BACKEND_KWARGS: kwargs,
    AIRFLOW__WORKERS__SECRETS_BACKEND: backend,
    AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS: kwargs,
    SG_GATEWAY_URL: url,
    SG_WRITE_TOKEN_FILE: path.join(home, 'write-token'),
  });
  await migrated;
});

after(async () => {
  await gw?.close();
  await redis?.dispose();
  await pg?.dispose();
});

test('a DAG task writes a connection with a ttl through GatewayClient, the next reads it with BaseHook, then it is removed', { skip }, async () => {
  const output = path.join(home, 'writes-output.json');
  const before = Date.now();
  const run = await airflow(['dags', 'test', 'gateway_writes'], { SG_E2E_OUTPUT: output, SG_E2E_PASSWORD: PASSWORD });
  const seen = JSON.parse(readFileSync(output, 'utf8'));

  // write_override: created in the overlay, a version, and an expiry ten minutes out.
  const written = seen.write_override;
  assert.equal(written.backend, 'overlay');
  assert.equal(written.created, true);
  assert.match(written.version, /\S/);
  const expires = Date.parse(written.expires);
  assert.ok(expires >= before + 590_000 && expires <= Date.now() + 610_000, `expires ${written.expires}`);

  // read_override: BaseHook and Variable, through the worker's secrets backend, see the override.
  assert.deepEqual(seen.read_override, {
    conn: { conn_type: 'postgres', host: 'scratch.internal', login: 'etl', password: PASSWORD, schema: 'scratch', port: 6432, extra: { sslmode: 'require' } },
    variable: 'on',
    xcom_version: written.version,
  });
  // remove_override: deleted with If-Match the version of the write; a second delete with missing_ok is None.
  assert.deepEqual(seen.remove_override, { deleted: [true, true], again: null });
  // read_underneath: the connection the override shadowed is served again, and the variable is gone.
  assert.deepEqual(seen.read_underneath, { conn: UNDERNEATH, variable: null });

  // Every write was the DAG's token's, audited with the overlay as the backend; no value in the task output.
  const writes = gw.auditEvents().filter((e) => typeof e['action'] === 'string' && (e['action'] as string).endsWith(':write'));
  assert.deepEqual(
    writes.map((e) => [e['subject'], e['method'], e['id'], e['status']]),
    [
      ['dag:gateway_writes', 'PUT', 'scratch_db', 201],
      ['dag:gateway_writes', 'PUT', 'scratch_flag', 201],
      ['dag:gateway_writes', 'DELETE', 'scratch_db', 200],
      ['dag:gateway_writes', 'DELETE', 'scratch_flag', 200],
      ['dag:gateway_writes', 'DELETE', 'scratch_flag', 404],
    ],
  );
  for (const e of writes.filter((w) => w['status'] !== 404)) assert.equal(e['backend'], 'overlay');
  assert.ok(!(run.stdout + run.stderr).includes(PASSWORD), 'the password is not in the task log');
});
