// End to end with REAL Apache Airflow (AIRFLOW_PYTHON, apache-airflow 3.3.2 from
// scripts/provision.sh), a real PostgreSQL metadata database and a real gateway
// listening on 127.0.0.1:
//
// - worker side: Airflow configured with `[secrets] backend` and `[workers]
//   secrets_backend` = airflow_secrets_gateway.SecretsGatewayBackend reads a
//   connection and a variable through the gateway: `airflow connections get`, the
//   Task SDK's Variable/BaseHook, and a real task run (`airflow dags test`);
// - metastore: `airflow connections add` / `variables set` with a Fernet key write
//   the metadata database; the gateway's airflow_metastore backend serves each one
//   with the fields Airflow's MetastoreBackend returns, also after
//   `airflow rotate-fernet-key`;
// - failures: the client is loud by default (a gateway that is down, an expired token, a missing
//   token file stop `airflow connections get` and a task with the URL, the reason and the request
//   id), and `on_unavailable: fall_through` lets Airflow go on with a warning in the task's log;
// - batch: a task that declares its ids with prefetch() gets them in one POST /v1/lookup.
//
// Airflow runs this checkout's client (PYTHONPATH=clients/airflow/src), not the venv's installed copy.
//
// Airflow commands are slow (seconds each), so the work is batched into few processes
// (test/e2e/airflow_steps.py) and one `airflow db migrate` serves both parts.
//
// After access control (issue 3) is merged, two assertions join the worker part:
// a token without the grant makes Airflow raise the denial (workerReads on an id
// outside the token's scopes gives AirflowSecretsBackendAccessDenied), and the audit
// log shows the task's context (the headers recorded below, as the audit event has them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AIRFLOW_BIN, AIRFLOW_PYTHON, AIRFLOW_SKIP, airflowHomeEnv, runCommand, runCommandOk, sqlAlchemyConn, type CommandRun } from '../helpers/airflow.ts';
import { startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';
import { startPostgres, type PostgresServer } from '../helpers/servers/postgres.ts';

const PYTHON = AIRFLOW_PYTHON;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const STEPS = path.join(HERE, 'airflow_steps.py');
/** The client as this checkout has it, ahead of whatever copy the venv installed. */
const skip = AIRFLOW_SKIP;

const fernetKey = (): string => randomBytes(32).toString('base64url') + '=';

// What only the gateway has (its local files): the worker can have got these from nowhere else.
const GATEWAY_CONNECTIONS = {
  gw_db: { conn_type: 'postgres', host: 'gw-db.internal', login: 'etl', password: 'p@ss/w0rd:?#', schema: 'dwh', port: 6432, extra: { sslmode: 'verify-full', opts: { a: 1 } } },
  'gw/nested/conn': 'mysql://u:pw@h:3306/s?charset=utf8',
  admin_db: 'postgres://admin:admin-only-pw@admin-db.internal/ops',
};
/** Ten connections a task declares and reads in one round trip (the opt-in batch). */
const BATCH_CONNECTIONS = Object.fromEntries(
  Array.from({ length: 10 }, (_, i) => [`gw_batch_${i}`, { conn_type: 'http', host: `svc-${i}.internal`, password: `batch-pw-${i}-${randomBytes(4).toString('hex')}` }]),
);
const GATEWAY_VARIABLES = { gw_var: 'variable through the gateway ✓', 'gw/with/slashes': 'slashed', 'path/with/../dots': 'dotted', gw_empty: '' };
/** What the worker's token grants: its own connections and variables, not admin_db; and ids with
 * `..` segments are never granted (a path-addressed backend could normalise them into another secret). */
const WORKER_SCOPES = ['connections:read:gw*', 'connections:read:nowhere*', 'variables:read:*'];

let pg: PostgresServer;
let gateway: TestGateway;
let home: string;
let keyFile: string;
let baseEnv: NodeJS.ProcessEnv;
let gatewayUrl: string;
let workerToken: string;
const seenHeaders: Record<string, string | string[] | undefined>[] = [];
const seenRequests: { method: string; url: string; taskId: string | undefined }[] = [];

/** Runs a command of the Airflow venv in the Airflow home; throws with the tail of its output if it fails. */
const run = (file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number) => runCommandOk(file, args, { env, cwd: home, ...(timeoutMs ? { timeoutMs } : {}) });

/** Runs a command of the Airflow venv in the Airflow home, whatever its exit status: what the user would see. */
const runAny = (file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number) => runCommand(file, args, { env, cwd: home, ...(timeoutMs ? { timeoutMs } : {}) });

/** Polls until `probe` returns a value (the audit sink writes on the next event-loop turn). */
async function eventually<T>(probe: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lastJson = (out: string): unknown => JSON.parse(out.trim().split('\n').at(-1)!);
const steps = async (env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> => lastJson((await run(PYTHON!, [STEPS, ...args], env)).stdout);

/** Airflow configured to read secrets through the gateway, as a worker would be. */
function workerEnv(overrides: { url?: string; token?: string; tokenFile?: string; on_unavailable?: string } = {}): NodeJS.ProcessEnv {
  const tokenFile = overrides.tokenFile ?? path.join(home, 'gateway-token');
  if (!overrides.tokenFile) writeFileSync(tokenFile, `${overrides.token ?? workerToken}\n`);
  const kwargs = JSON.stringify({
    url: overrides.url ?? gatewayUrl,
    token_path: tokenFile,
    timeout: 10,
    retries: 1,
    ...(overrides.on_unavailable ? { on_unavailable: overrides.on_unavailable } : {}),
  });
  const backend = 'airflow_secrets_gateway.SecretsGatewayBackend';
  return {
    ...baseEnv,
    AIRFLOW__SECRETS__BACKEND: backend,
    AIRFLOW__SECRETS__BACKEND_KWARGS: kwargs,
    AIRFLOW__WORKERS__SECRETS_BACKEND: backend,
    AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS: kwargs,
  };
}

async function gatewayGet(kind: 'connections' | 'variables', id: string, query = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gatewayUrl}/v1/${kind}/${encodeURIComponent(id)}${query}`, { headers: { authorization: `Bearer ${gateway.token()}` } });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  if (skip) return;
  home = tempDir('sg-e2e-airflow-');
  mkdirSync(path.join(home, 'dags'));
  for (const dagFile of ['gateway_dag.py', 'gateway_more_dags.py']) writeFileSync(path.join(home, 'dags', dagFile), readFileSync(path.join(HERE, 'dags', dagFile)));
  pg = await startPostgres({ database: 'airflow' });
  const k1 = fernetKey();
  keyFile = path.join(home, 'fernet.key');
  writeFileSync(keyFile, `${k1}\n`);
  baseEnv = airflowHomeEnv(PYTHON!, home, {
    PYTHONIOENCODING: 'utf-8',
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: sqlAlchemyConn(pg),
    AIRFLOW__CORE__FERNET_KEY: k1,
    AIRFLOW__CORE__DAGS_FOLDER: path.join(home, 'dags'),
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: path.join(home, 'logs'),
    AIRFLOW__API_AUTH__JWT_SECRET: randomBytes(16).toString('hex'),
  });
  await run(AIRFLOW_BIN, ['db', 'migrate'], baseEnv);

  gateway = await startTestGateway({
    config: {
      server: { port: 0 },
      log: { level: 'warn' },
      // What the backends serve, read fresh each time (a key rotation is checked below); the cache has its own tests.
      cache: { enabled: false },
      backends: [
        { type: 'local_filesystem', connections_file_path: './connections.json', variables_file_path: './variables.json' },
        { type: 'airflow_metastore', sql_alchemy_conn: baseEnv['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'], fernet_key_file: keyFile },
      ],
    },
    files: { 'connections.json': JSON.stringify({ ...GATEWAY_CONNECTIONS, ...BATCH_CONNECTIONS }), 'variables.json': JSON.stringify(GATEWAY_VARIABLES) },
    secrets: Object.values(BATCH_CONNECTIONS).map((c) => c.password),
    beforeReady: (app) =>
      app.addHook('onRequest', async (request) => {
        seenHeaders.push({ ...request.headers });
        const taskId = request.headers['x-airflow-task-id'];
        seenRequests.push({ method: request.method, url: request.url, taskId: typeof taskId === 'string' ? taskId : undefined });
      }),
  });
  workerToken = gateway.token(WORKER_SCOPES, { sub: 'system:serviceaccount:airflow:airflow-worker' });
  await gateway.app.listen({ host: '127.0.0.1', port: 0 });
  gatewayUrl = `http://127.0.0.1:${(gateway.app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await gateway?.close();
  await pg?.dispose();
});

test('worker: airflow connections get, the Task SDK and a real task run read through the gateway', { skip }, async () => {
  const env = workerEnv();

  // 1. The CLI.
  const cli = await run(AIRFLOW_BIN, ['connections', 'get', 'gw_db', '-o', 'json'], env);
  const [shown] = lastJson(cli.stdout) as Record<string, unknown>[];
  const expected = GATEWAY_CONNECTIONS.gw_db;
  // The CLI prints every scalar with str(): port 6432 as "6432", nested numbers too.
  const cliForm = (v: unknown): unknown =>
    v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cliForm(x)])) : String(v);
  assert.deepEqual(
    { conn_type: shown!['conn_type'], host: shown!['host'], login: shown!['login'], password: shown!['password'], schema: shown!['schema'], port: shown!['port'], extra: shown!['extra_dejson'] },
    cliForm(expected),
  );

  // 2. The Task SDK, as task code and hooks call it (ids with "/" and "..", a miss that falls through).
  const reads = await steps(env, 'worker-reads', JSON.stringify({
    connections: ['gw_db', 'gw/nested/conn', 'nowhere_conn', 'admin_db'],
    variables: ['gw_var', 'gw/with/slashes', 'path/with/../dots', 'gw_empty', 'nowhere_var'],
  }));
  const { uri: _uri, description, extra, ...sdkFields } = reads.connections.gw_db;
  assert.deepEqual({ ...sdkFields, extra: JSON.parse(extra) }, expected);
  assert.equal(description, null);
  assert.equal(reads.connections['gw/nested/conn'].uri, 'mysql://u:pw@h:3306/s?charset=utf8');
  assert.deepEqual(reads.connections.nowhere_conn, { error: 'AirflowNotFoundException' });
  // A token without the grant: Airflow sees the denial (authoritative: it does not fall through to another backend).
  assert.deepEqual(reads.connections.admin_db, { error: 'AirflowSecretsBackendAccessDenied' });
  assert.deepEqual(reads.variables, {
    gw_var: GATEWAY_VARIABLES.gw_var,
    'gw/with/slashes': 'slashed',
    'path/with/../dots': { error: 'AirflowSecretsBackendAccessDenied' },
    gw_empty: '',
    nowhere_var: null,
  });

  // 3. A real task run.
  const output = path.join(home, 'task-output.json');
  seenHeaders.length = 0;
  await run(AIRFLOW_BIN, ['dags', 'test', 'gateway_e2e'], { ...env, SG_E2E_OUTPUT: output });
  const fromTask = JSON.parse(readFileSync(output, 'utf8'));
  assert.deepEqual(fromTask, { conn: expected, variable: GATEWAY_VARIABLES.gw_var });
  // The task's context and the token reached the gateway with the task's requests.
  const fromTaskRequests = seenHeaders.filter((h) => h['x-airflow-task-id'] === 'read_secrets');
  assert.ok(fromTaskRequests.length >= 2, `requests with the task context: ${fromTaskRequests.length}`);
  for (const h of fromTaskRequests) {
    assert.equal(h['x-airflow-dag-id'], 'gateway_e2e');
    assert.match(String(h['x-airflow-run-id']), /\S/);
    assert.match(String(h['x-airflow-try-number']), /^\d+$/);
    assert.equal(h['authorization'], `Bearer ${workerToken}`);
  }
  // The audit log shows who read what for which task (context from the headers: marked unverified).
  const taskEvents = await eventually(() => {
    const events = gateway.auditEvents().filter((e) => (e['airflow'] as { task_id?: string } | null)?.task_id === 'read_secrets');
    return events.length >= 2 ? events : undefined;
  });
  for (const e of taskEvents) {
    assert.equal(e['subject'], 'system:serviceaccount:airflow:airflow-worker');
    assert.deepEqual({ ...(e['airflow'] as object), run_id: 'x', try_number: 'x' }, { dag_id: 'gateway_e2e', task_id: 'read_secrets', run_id: 'x', try_number: 'x', verified: false });
    assert.equal(e['decision'], 'allow');
    assert.equal(e['outcome'], 'found');
  }
  assert.deepEqual(new Set(taskEvents.map((e) => e['id'])), new Set(['gw_db', 'gw_var']));
  // The denial is in the audit log too, and no value is.
  const audit = readFileSync(gateway.auditFile, 'utf8');
  assert.ok(gateway.auditEvents().some((e) => e['id'] === 'admin_db' && e['decision'] === 'deny'));
  for (const secret of ['p@ss/w0rd:?#', 'admin-only-pw', GATEWAY_VARIABLES.gw_var]) assert.ok(!audit.includes(secret));
});

/** What a user sees from a command: its stdout and stderr together. */
const seen = (r: CommandRun): string => `${r.stdout}\n${r.stderr}`;

test('loud failures: a gateway that is down, a 401 and a missing token file stop Airflow with the URL, the reason and the request id', { skip }, async () => {
  // A port where nothing listens (the gateway is down).
  const downUrl = await closedPortUrl();
  const expired = gateway.token(WORKER_SCOPES, { sub: 'system:serviceaccount:airflow:airflow-worker' }, -60);
  const cases = [
    { name: 'down', env: workerEnv({ url: downUrl }), expect: [`Secrets Gateway at ${downUrl} could not answer for connection 'gw_db': no answer after 2 attempt(s) (ConnectionRefusedError) (request none)`] },
    { name: '401', env: workerEnv({ token: expired }), expect: [`Secrets Gateway at ${gatewayUrl} could not answer for connection 'gw_db': HTTP 401 `], requestId: true },
    { name: 'no token file', env: workerEnv({ tokenFile: path.join(home, 'no-such-token') }), expect: [`Secrets Gateway at ${gatewayUrl} could not answer for connection 'gw_db': cannot read the token file ${path.join(home, 'no-such-token')} (No such file or directory) (request none)`] },
  ];
  for (const c of cases) {
    // The CLI: not "Connection not found." but the reason, and a failing exit status.
    const cli = await runAny(AIRFLOW_BIN, ['connections', 'get', 'gw_db', '-o', 'json'], c.env);
    assert.notEqual(cli.code, 0, `${c.name}: the CLI must fail`);
    for (const e of c.expect) assert.ok(seen(cli).includes(e), `${c.name}: CLI output lacks ${JSON.stringify(e)}:\n${seen(cli).slice(-2500)}`);
    assert.doesNotMatch(seen(cli), /Connection not found/, c.name);
    if (c.requestId) assert.match(seen(cli), /HTTP 401 invalid_token \([^)]*\) \(request [0-9a-zA-Z-]+\)/, c.name);
    assert.ok(!seen(cli).includes(expired) && !seen(cli).includes(workerToken), `${c.name}: a token in the output`);

    // A real task: it fails with the same message in its log, and Airflow did not go on to another backend.
    const output = path.join(home, `failure-${c.name.replaceAll(' ', '-')}.json`);
    const dagRun = await runAny(AIRFLOW_BIN, ['dags', 'test', 'gateway_failure'], { ...c.env, SG_E2E_OUTPUT: output });
    const fromTask = JSON.parse(readFileSync(output, 'utf8'));
    assert.ok(fromTask.error.includes('SecretsGatewayUnavailable') && fromTask.error.includes('AirflowSecretsBackendAccessDenied'), `${c.name}: ${fromTask.error}`);
    for (const e of c.expect) {
      assert.ok(fromTask.message.includes(e), `${c.name}: task saw ${fromTask.message}`);
      assert.ok(seen(dagRun).includes(e), `${c.name}: the task log lacks ${JSON.stringify(e)}:\n${seen(dagRun).slice(-2500)}`);
    }
    assert.match(seen(dagRun), /failed|FAILED/, `${c.name}: the run must fail`);
  }
  // The gateway that answered 401 logged the same request id the user was shown.
  const shown = /HTTP 401 [^(]*\([^)]*\) \(request ([0-9a-zA-Z-]+)\)/.exec(readFileSync(path.join(home, 'failure-401.json'), 'utf8'))?.[1];
  assert.ok(shown && gateway.logs.join('').includes(shown), `request id ${shown} not in the gateway's log`);
});

test('on_unavailable=fall_through: Airflow goes on to its next backend, and the warning reaches the CLI and the task log', { skip }, async () => {
  const downUrl = await closedPortUrl();
  const env = workerEnv({ url: downUrl, on_unavailable: 'fall_through' });
  const warning = `the Secrets Gateway at ${downUrl} could not answer for connection 'gw_db': no answer after 2 attempt(s) (ConnectionRefusedError) (request none); on_unavailable=fall_through`;
  // `connections get` silences all logging unless --verbose (Airflow's own choice): then the warning shows.
  const cli = await runAny(AIRFLOW_BIN, ['connections', 'get', 'gw_db', '-o', 'json'], env);
  assert.notEqual(cli.code, 0);
  assert.match(seen(cli), /Connection not found/);
  const verbose = await runAny(AIRFLOW_BIN, ['connections', 'get', 'gw_db', '-o', 'json', '--verbose'], env);
  assert.match(seen(verbose), /Connection not found/);
  assert.ok(seen(verbose).includes(warning), `CLI output lacks the warning:\n${seen(verbose).slice(-2500)}`);

  const output = path.join(home, 'failure-fall-through.json');
  const dagRun = await runAny(AIRFLOW_BIN, ['dags', 'test', 'gateway_failure'], { ...env, SG_E2E_OUTPUT: output });
  const fromTask = JSON.parse(readFileSync(output, 'utf8'));
  assert.ok(fromTask.error.includes('AirflowNotFoundException'), String(fromTask.error));
  // The client's warnings (the retry, then the fall-through) are in the task's log.
  assert.ok(seen(dagRun).includes(warning), `the task log lacks the warning:\n${seen(dagRun).slice(-2500)}`);
  assert.ok(seen(dagRun).includes("Secrets Gateway request for connection 'gw_db' failed (ConnectionRefusedError); retrying (1/1)"), 'the retry warning');
});

test('batch: a task that declares its ids gets them in one POST /v1/lookup and reads them from that answer', { skip }, async () => {
  const env = workerEnv();
  const connIds = Object.keys(BATCH_CONNECTIONS);
  const output = path.join(home, 'batch-output.json');
  seenRequests.length = 0;
  await run(AIRFLOW_BIN, ['dags', 'test', 'gateway_batch'], {
    ...env,
    SG_E2E_OUTPUT: output,
    SG_E2E_CONN_IDS: JSON.stringify(connIds),
    SG_E2E_VAR_IDS: JSON.stringify(['gw_var']),
  });
  const fromTask = JSON.parse(readFileSync(output, 'utf8'));
  assert.equal(fromTask.answered, 11);
  assert.deepEqual(fromTask.connections, Object.fromEntries(connIds.map((id) => [id, BATCH_CONNECTIONS[id]!.password])));
  assert.deepEqual(fromTask.variables, { gw_var: GATEWAY_VARIABLES.gw_var });
  const fromTaskRequests = seenRequests.filter((r) => r.taskId === 'read_batch');
  assert.deepEqual(fromTaskRequests.map((r) => `${r.method} ${r.url}`), ['POST /v1/lookup']);
  // Each item is audited with the task's context, as a GET would be.
  const events = await eventually(() => {
    const e = gateway.auditEvents().filter((x) => (x['airflow'] as { task_id?: string } | null)?.task_id === 'read_batch');
    return e.length >= 11 ? e : undefined;
  });
  assert.deepEqual(new Set(events.map((e) => e['id'])), new Set([...connIds, 'gw_var']));
});

/** A loopback URL where nothing listens. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

test('metastore: what Airflow writes with a Fernet key, the gateway serves with the fields Airflow returns, also after a key rotation', { skip }, async () => {
  await steps(baseEnv, 'seed-metastore');
  // Rows from before a Fernet key was set are stored in the clear (is_encrypted false).
  await pg.psql(
    `INSERT INTO connection (conn_id, conn_type, host, password, extra, is_encrypted, is_extra_encrypted)
       VALUES ('meta_plain', 'http', 'plain.example', 'plain-pass', '{"x": "y"}', false, false);
     INSERT INTO variable (key, val, is_encrypted) VALUES ('meta_plain_var', 'plain value', false);`,
  );
  const ids = {
    connections: ['meta_pg', 'meta.json-conn', 'meta_nopass', 'meta_plain', 'meta_missing'],
    variables: ['meta_var', 'meta/empty', 'meta_json', 'meta_plain_var', 'meta_missing'],
  };
  const airflow = await steps(baseEnv, 'metastore-view', JSON.stringify(ids));
  // The stored values really are encrypted: what the CLI wrote is not readable in the table.
  assert.equal((await pg.psql(`SELECT count(*) FROM connection WHERE is_encrypted AND password LIKE 'gAAAAA%'`)).trim(), '2');

  const expectSameAsAirflow = async (label: string): Promise<void> => {
    for (const id of ids.connections) {
      const want = airflow.connections[id];
      const got = await gatewayGet('connections', id);
      if (want === null) {
        assert.equal(got.status, 404, `${label}: ${id}`);
        continue;
      }
      assert.equal(got.status, 200, `${label}: ${id} ${JSON.stringify(got.body)}`);
      const { extra, uri, ...fields } = want;
      assert.deepEqual({ ...got.body, extra: undefined }, { conn_id: id, ...fields, extra: undefined }, `${label}: ${id}`);
      assert.deepEqual(got.body.extra, extra === null ? null : JSON.parse(extra), `${label}: ${id} extra`);
      const asUri = await gatewayGet('connections', id, '?format=uri');
      assert.equal(asUri.body.uri, uri, `${label}: ${id} uri`);
    }
    for (const key of ids.variables) {
      const got = await gatewayGet('variables', key);
      if (airflow.variables[key] === null) assert.equal(got.status, 404, `${label}: ${key}`);
      else assert.deepEqual(got.body, { key, value: airflow.variables[key] }, `${label}: ${key}`);
    }
  };
  await expectSameAsAirflow('before rotation');
  assert.equal(airflow.connections.meta_pg.password, 'p@ss/w0rd');
  assert.equal(airflow.variables['meta/empty'], '');

  // Rotation: Airflow re-encrypts every value with the new first key.
  const k1 = baseEnv['AIRFLOW__CORE__FERNET_KEY']!;
  const k2 = fernetKey();
  await run(AIRFLOW_BIN, ['rotate-fernet-key'], { ...baseEnv, AIRFLOW__CORE__FERNET_KEY: `${k2},${k1}` });
  // The gateway still has only the old key: it cannot decrypt, and says so (503), never "not found".
  const stale = await gatewayGet('variables', 'meta_var');
  assert.equal(stale.status, 503);
  assert.equal(stale.body.code, 'backend_unavailable');
  assert.doesNotMatch(JSON.stringify(stale.body), /s3cret/);
  // With the new key alone in its key file (the old one retired), it serves the same answers.
  writeFileSync(keyFile, `${k2}\n`);
  await expectSameAsAirflow('after rotation');
});
