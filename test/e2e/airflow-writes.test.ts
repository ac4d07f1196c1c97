// The write API against real Airflow 3.3.2 (issue 17): what the gateway writes into the metadata
// database (a schema made by `airflow db migrate`, Fernet on) is what `airflow connections get` and
// `airflow variables get` read, password and extra decrypted with Airflow's own key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { registerSecrets, startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';
import { startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';

const PYTHON = process.env['AIRFLOW_PYTHON'];
const AIRFLOW_BIN = PYTHON ? path.join(path.dirname(PYTHON), 'airflow') : '';
const skip = PYTHON ? false : 'AIRFLOW_PYTHON is not set (test/run-all.sh sets it after provisioning .venv/airflow)';

const PASSWORD = `aw-${randomBytes(8).toString('hex')}`;
const VALUE = `av-${randomBytes(8).toString('hex')}`;
const FERNET = randomBytes(32).toString('base64url') + '=';
registerSecrets([PASSWORD, VALUE, FERNET]);

let pg: PostgresServer;
let gw: TestGateway;
let env: NodeJS.ProcessEnv;

function airflow(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(AIRFLOW_BIN, args, { env, cwd: env.AIRFLOW_HOME, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`airflow ${args.slice(0, 2).join(' ')} exited ${code}: ${err.slice(-2000).replaceAll(PASSWORD, '***')}`));
    });
  });
}

before(async () => {
  if (skip) return;
  const home = tempDir('sg-e2e-writes-');
  pg = await startPostgres({ database: 'airflow' });
  const keyFile = path.join(home, 'fernet.key');
  writeFileSync(keyFile, `${FERNET}\n`);
  env = {
    PATH: `${path.dirname(PYTHON!)}:${process.env['PATH'] ?? ''}`,
    HOME: home,
    LANG: 'C.UTF-8',
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `postgresql+psycopg2://${pg.user}@${pg.host}:${pg.port}/${pg.database}`,
    AIRFLOW__CORE__FERNET_KEY: FERNET,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    PYTHONDONTWRITEBYTECODE: '1',
  };
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
