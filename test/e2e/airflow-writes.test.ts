// The write API against real Airflow 3.3.2 (issue 17): what the gateway writes into the metadata
// database (a schema made by `airflow db migrate`, Fernet on) is what `airflow connections get` and
// `airflow variables get` read, password and extra decrypted with Airflow's own key.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AIRFLOW_BIN, AIRFLOW_PYTHON, AIRFLOW_SKIP, airflowHomeEnv, runCommandOk, sqlAlchemyConn } from '../helpers/airflow.ts';
import { registerSecrets, startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';
import { startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';

const skip = AIRFLOW_SKIP;

const PASSWORD = `aw-${randomBytes(8).toString('hex')}`;
const VALUE = `av-${randomBytes(8).toString('hex')}`;
const FERNET = randomBytes(32).toString('base64url') + '=';
registerSecrets([PASSWORD, VALUE, FERNET]);

let pg: PostgresServer;
let gw: TestGateway;
let env: NodeJS.ProcessEnv;

/** An `airflow` command in this test's Airflow home; its stdout. */
const airflow = async (args: string[]): Promise<string> => (await runCommandOk(AIRFLOW_BIN, args, { env, cwd: env.AIRFLOW_HOME, hide: [PASSWORD] })).stdout;

before(async () => {
  if (skip) return;
  const home = tempDir('sg-e2e-writes-');
  pg = await startPostgres({ database: 'airflow' });
  const keyFile = path.join(home, 'fernet.key');
  writeFileSync(keyFile, `${FERNET}\n`);
  env = airflowHomeEnv(AIRFLOW_PYTHON!, home, { AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: sqlAlchemyConn(pg), AIRFLOW__CORE__FERNET_KEY: FERNET });
  await airflow(['db', 'migrate']);
  gw = await startTestGateway({
    config: {
      backends: [{ type: 'airflow_metastore', sql_alchemy_conn: env.AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, fernet_key_file: keyFile, writable: true }],
      writes: { target: 'airflow_metastore' },
    },
  });
});

after(async () => {
  await gw?.close();
  await pg?.dispose();
});

test('airflow connections get and variables get read what the gateway wrote into the metastore', { skip }, async () => {
  const headers = { authorization: `Bearer ${gw.token(['connections:write:*', 'variables:write:*', 'connections:read:*'])}` };
  const extra = { sslmode: 'require', retries: 3 };
  const put = await gw.inject({
    method: 'PUT',
    url: '/v1/connections/gw_written',
    headers,
    payload: { conn_type: 'postgres', host: 'scratch.internal', login: 'etl', password: PASSWORD, schema: 'dwh', port: 6432, extra, description: 'for an afternoon' },
  });
  assert.equal(put.statusCode, 201, put.body);
  assert.equal((await gw.inject({ method: 'PUT', url: '/v1/variables/gw_written_var', headers, payload: { value: VALUE } })).statusCode, 201);

  const [conn] = JSON.parse(await airflow(['connections', 'get', 'gw_written', '-o', 'json'])) as Array<Record<string, unknown>>;
  assert.equal(conn!.conn_type, 'postgres');
  assert.equal(conn!.host, 'scratch.internal');
  assert.equal(conn!.login, 'etl');
  assert.equal(conn!.password, PASSWORD);
  assert.equal(String(conn!.port), '6432');
  assert.equal(conn!.schema, 'dwh');
  assert.equal(conn!.description, 'for an afternoon');
  assert.equal(String(conn!.is_encrypted), 'True');
  // The CLI's table output writes every extra value as text.
  const extraSeen = typeof conn!.extra_dejson === 'string' ? JSON.parse((conn!.extra_dejson as string).replaceAll("'", '"')) : conn!.extra_dejson;
  assert.deepEqual(Object.fromEntries(Object.entries(extraSeen as object).map(([k, v]) => [k, String(v)])), { sslmode: 'require', retries: '3' });
  assert.equal((await airflow(['variables', 'get', 'gw_written_var'])).trim(), VALUE);

  // And a delete through the gateway is gone for Airflow too.
  assert.equal((await gw.inject({ method: 'DELETE', url: '/v1/connections/gw_written', headers })).statusCode, 200);
  await assert.rejects(airflow(['connections', 'get', 'gw_written', '-o', 'json']));
});
