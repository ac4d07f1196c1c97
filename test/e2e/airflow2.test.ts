// The worker's Python backend on the Airflow 2.x line: a real Airflow 2.11 (the last 2.x
// release) reads connections and variables through a running gateway with `[secrets] backend`.
// Airflow 2.x has no authoritative denial (AirflowSecretsBackendAccessDenied is
// 3.x): a refused id is logged by Airflow and falls through to its next backend,
// so it ends as "not found"; the gateway's audit log records the denial. The same holds
// for a gateway that cannot answer: Airflow 2.x logs the client's error, with the URL,
// the reason and the request id, and goes on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';

const PYTHON = process.env['AIRFLOW2_PYTHON'];
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'airflow2_worker.py');
const skip = PYTHON ? false : 'AIRFLOW2_PYTHON is not set (test/run-all.sh sets it after provisioning .venv/airflow2)';
/** The client as this checkout has it, ahead of whatever copy the venv installed. */
const CLIENT_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../clients/airflow/src');

const CONNECTIONS = {
  gw_db: { conn_type: 'postgres', host: 'gw-db.internal', login: 'etl', password: 'p@ss/w0rd:?#2', schema: 'dwh', port: 6432, extra: { sslmode: 'verify-full', opts: { a: 1.5 } } },
  'gw/nested/conn': 'mysql://u:pw2@h:3306/s?charset=utf8',
  admin_db: 'postgres://admin:admin-only-pw2@admin-db.internal/ops',
};
const VARIABLES = { gw_var: 'variable through the gateway on 2.x ✓', gw_empty: '' };

let gateway: TestGateway;
let home: string;

before(async () => {
  if (skip) return;
  home = tempDir('sg-e2e-airflow2-');
  gateway = await startTestGateway({
    config: { log: { level: 'warn' }, backends: [{ type: 'local_filesystem', connections_file_path: './c.json', variables_file_path: './v.json' }] },
    files: { 'c.json': JSON.stringify(CONNECTIONS), 'v.json': JSON.stringify(VARIABLES) },
    secrets: ['p@ss/w0rd:?#2', 'admin-only-pw2', VARIABLES.gw_var],
  });
  await gateway.app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await gateway?.close();
});

function runWorker(env: NodeJS.ProcessEnv, ids: object): Promise<{ connections: Record<string, unknown>; variables: Record<string, unknown>; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON!, [WORKER, JSON.stringify(ids)], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`airflow2_worker.py exited ${code}:\n${stderr.slice(-3000)}`));
      resolve({ ...JSON.parse(stdout.trim().split('\n').at(-1)!), output: `${stdout}\n${stderr}` });
    });
  });
}

function workerEnv(url: string, tokenFile: string): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(PYTHON!)}:${process.env['PATH'] ?? ''}`,
    HOME: home,
    LANG: 'C.UTF-8',
    PYTHONIOENCODING: 'utf-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONPATH: CLIENT_SRC,
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${path.join(home, 'airflow.db')}`,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__SECRETS__BACKEND: 'airflow_secrets_gateway.SecretsGatewayBackend',
    AIRFLOW__SECRETS__BACKEND_KWARGS: JSON.stringify({ url, token_path: tokenFile, timeout: 10, retries: 1 }),
    AIRFLOW_CTX_DAG_ID: 'dag_2x',
    AIRFLOW_CTX_TASK_ID: 'task_2x',
    AIRFLOW_CTX_DAG_RUN_ID: 'manual__2026',
    AIRFLOW_CTX_TRY_NUMBER: '1',
  };
}

test('Airflow 2.11 reads connections and variables through SecretsGatewayBackend', { skip }, async () => {
  const address = gateway.app.server.address() as { port: number };
  const tokenFile = path.join(home, 'token');
  writeFileSync(tokenFile, gateway.token(['connections:read:gw*', 'connections:read:nowhere*', 'variables:read:*'], { sub: 'airflow2-worker' }));
  const env = workerEnv(`http://127.0.0.1:${address.port}`, tokenFile);
  const got = await runWorker(env, { connections: ['gw_db', 'gw/nested/conn', 'nowhere_conn', 'admin_db'], variables: ['gw_var', 'gw_empty', 'nowhere_var'] });

  assert.deepEqual(got.connections['gw_db'], CONNECTIONS.gw_db);
  assert.deepEqual(got.connections['gw/nested/conn'], { conn_type: 'mysql', host: 'h', login: 'u', password: 'pw2', schema: 's', port: 3306, extra: { charset: 'utf8' } });
  assert.deepEqual(got.connections['nowhere_conn'], { error: 'AirflowNotFoundException' });
  // No authoritative denial on 2.x: Airflow logs the refusal and goes on, so the id ends as not found.
  assert.deepEqual(got.connections['admin_db'], { error: 'AirflowNotFoundException' });
  assert.deepEqual(got.variables, { gw_var: VARIABLES.gw_var, gw_empty: '', nowhere_var: null });

  // The gateway saw the task's context and denied admin_db.
  await new Promise((r) => setTimeout(r, 100)); // the audit sink writes on the next event-loop turn
  const events = gateway.auditEvents();
  const denied = events.find((e) => e['id'] === 'admin_db');
  assert.equal(denied?.['decision'], 'deny');
  const read = events.find((e) => e['id'] === 'gw_db');
  assert.equal(read?.['subject'], 'airflow2-worker');
  assert.deepEqual(read?.['airflow'], { dag_id: 'dag_2x', task_id: 'task_2x', run_id: 'manual__2026', try_number: '1', verified: false });
});

test('Airflow 2.11 with a gateway that cannot answer: Airflow logs the client error (URL, reason, request id) and goes on', { skip }, async () => {
  const address = gateway.app.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const missing = path.join(home, 'no-such-token');
  const got = await runWorker(workerEnv(url, missing), { connections: ['gw_db'], variables: [] });
  // Airflow 2.x has no exception that stops its search: the connection ends as not found, but the log says why.
  assert.deepEqual(got.connections['gw_db'], { error: 'AirflowNotFoundException' });
  // (Airflow 2's console log handler writes to stdout.)
  assert.ok(
    got.output.includes(`SecretsGatewayUnavailable: the Secrets Gateway at ${url} could not answer for connection 'gw_db': cannot read the token file ${missing} (No such file or directory) (request none)`),
    got.output.slice(-3000),
  );
});
