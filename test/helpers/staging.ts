// A staging deployment on loopback, with no Docker: the picture of "Deployment architectures →
// staging" in docs/deployment.md, started for real.
//
//   PostgreSQL (Airflow's metadata database and Celery's result backend)
//   Redis      (Celery's broker, and the gateways' cache invalidation channel)
//   OpenBao    (the secrets: KV v2, read by the gateways with an AppRole)
//   two gateway replicas (`serve` processes), sharing the signing key and Redis invalidation
//   HAProxy    (Debian's package) in front of them, health-checking /readyz
//   Airflow 3  scheduler, DAG processor, API server (the Execution API), CeleryExecutor,
//              two Celery workers whose tasks read secrets through HAProxy with the
//              project's backend (clients/airflow) and a token for their service identity
//
// Every log the stack writes, and the XComs, are kept for the leak check (keepLog) by stop();
// every secret value it holds is registered (registerSecrets).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSigner } from 'fast-jwt';
import { stringify } from 'yaml';
import { ARTIFACTS_DIR, keepLog, registerSecrets, TEST_KID } from './gateway.ts';
import { REPO_ROOT, freePort, makeTempDir, spawnManaged, systemTool, tailFile, waitReady, waitPortFree, type ManagedProcess } from './servers/common.ts';
import { startOpenBao, type OpenBaoServer } from './servers/openbao.ts';
import { startPostgres, type PostgresServer } from './servers/postgres.ts';
import { startRedis, type RedisServer } from './servers/redis.ts';

export const WORKER_SUBJECT = 'system:serviceaccount:airflow:airflow-worker';
export const DAG_ID = 'staging_secrets';
/** Airflow 3.3.2's Python, with the celery provider (scripts/provision.sh). */
export const AIRFLOW_PYTHON = process.env['AIRFLOW_PYTHON'] ?? path.join(REPO_ROOT, '.venv/airflow/bin/python');
const DAG_FILE = path.join(REPO_ROOT, 'test/staging/dags/staging_dag.py');
const INVALIDATION_CHANNEL = 'secrets-gateway:staging-invalidations';

/** What the DAG reads (test/staging/dags/staging_dag.py): connection passwords and variable values. */
export type Secrets = { stg_warehouse: string; stg_api: string; stg_api_key: string; stg_region: string };

/** The fingerprint the DAG pushes to XCom for a value (never the value). */
export const fingerprint = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 16);

/** A value no test could guess, marked for the leak check. */
export function secretValue(label: string): string {
  const value = `${label}-${randomBytes(12).toString('base64url')}`;
  registerSecrets([value]);
  return value;
}

export interface StagingOptions {
  /** Cache TTL for connections (the vault-connections backend), seconds. */
  connectionTtlSeconds?: number;
  /** Mapped task instances per DAG run. */
  tasksPerRun?: number;
  /** How long each task keeps reading after its first reads, seconds. */
  holdSeconds?: number;
  /** Celery worker concurrency (each of the two workers). */
  concurrency?: number;
  /** More DAG files for the DAG folder (bench/airflow-staging.ts adds its own). */
  extraDagFiles?: string[];
  /** More grants for the workers' identity. */
  extraGrants?: string[];
}

export interface Replica {
  readonly name: string;
  readonly port: number;
  readonly base: string;
  readonly auditFile: string;
  proc: ManagedProcess;
  start(): Promise<void>;
}

export interface TaskResult {
  run_id: string;
  map_index: number;
  index: number;
  worker: string;
  started: number;
  first_read_done: number;
  finished: number;
  reads: number;
  first: Record<keyof Secrets, string>;
  last: Record<keyof Secrets, string>;
}

export interface StagingStack {
  readonly secrets: Secrets;
  readonly replicas: [Replica, Replica];
  /** http://127.0.0.1:P: HAProxy, what the workers use. */
  readonly lbUrl: string;
  readonly bao: OpenBaoServer;
  readonly pg: PostgresServer;
  readonly timings: Record<string, number>;
  /** A token for the harness itself (reads everything, may invalidate the cache). */
  operatorToken(): string;
  /** Writes a new KV version of a connection's password or a variable's value in OpenBao. */
  rotate(id: keyof Secrets, value: string): Promise<void>;
  /** POST /v1/cache/invalidate through the load balancer. */
  invalidate(body: Record<string, unknown>): Promise<{ invalidated: number; fanout: string }>;
  /** Audit events of reads by the workers' identity in a replica's audit log. */
  auditReads(replica: Replica): number;
  /** The KV requests OpenBao served to the gateways (its own audit device): values and version checks. */
  backendReads(): { values: number; versions: number };
  /** What HAProxy logged for the gateway frontend: requests, by status and server, and those retried or redispatched. */
  lbSummary(): { requests: number; status: Record<string, number>; servers: Record<string, number>; retried: number; retriedAt: number[] };
  /** HAProxy's view of a replica: UP, DOWN, … */
  lbState(replica: Replica): Promise<string>;
  /** Triggers a DAG run through Airflow's REST API; returns its run_id. */
  triggerRun(runId: string, dagId?: string): Promise<string>;
  /** task_instance states of the DAG's runs: {state: count}. */
  taskStates(dagId?: string): Promise<Record<string, number>>;
  /** dag_run states: {state: count}. */
  runStates(dagId?: string): Promise<Record<string, number>>;
  /** The return values one DAG run's task instances pushed to XCom. */
  xcoms(dagId: string, runId: string): Promise<unknown[]>;
  /** Restarts both Celery workers with `env` over the stack's Airflow environment (another secrets backend, say). */
  restartWorkers(env: NodeJS.ProcessEnv): Promise<void>;
  /** Each finished task instance's XCom (the fingerprints it saw). */
  results(): Promise<TaskResult[]>;
  /** Stops everything and keeps every log (and the XComs) for the leak check. */
  stop(): Promise<void>;
}

/** Runs a command to completion; throws with the tail of its output if it fails. */
async function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 240_000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(file)} ${args.slice(0, 2).join(' ')} exited ${code ?? signal}:\n${out.slice(-3000)}`));
    });
  });
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms: number, intervalMs = 200): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not within ${ms} ms${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = path.join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesUnder(p));
    else if (st?.isFile()) out.push(p);
  }
  return out;
}

export async function startStagingStack(options: StagingOptions = {}): Promise<StagingStack> {
  const python = AIRFLOW_PYTHON;
  const airflowBin = path.join(path.dirname(python), 'airflow');
  const haproxyBin = systemTool('haproxy', ['/usr/sbin']);
  const connectionTtl = options.connectionTtlSeconds ?? 3;
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const mark = (name: string) => (timings[name] = Math.round(performance.now() - t0));

  const dir = makeTempDir('staging');
  const home = path.join(dir, 'airflow');
  mkdirSync(path.join(home, 'dags'), { recursive: true });
  for (const file of [DAG_FILE, ...(options.extraDagFiles ?? [])]) copyFileSync(file, path.join(home, 'dags', path.basename(file)));

  const secrets: Secrets = {
    stg_warehouse: secretValue('warehouse-pw'),
    stg_api: secretValue('api-pw'),
    stg_api_key: secretValue('api-key'),
    stg_region: secretValue('region'),
  };

  // ---- PostgreSQL, Redis, OpenBao, in parallel
  const [pg, redis, bao] = await Promise.all([startPostgres({ database: 'airflow' }), startRedis(), startOpenBao({ auditLog: true })]);
  mark('services');
  const stopped: Array<() => Promise<void>> = [];

  try {
    // Secrets in OpenBao, read by the gateways with an AppRole that may only read them.
    const kvPath = (id: keyof Secrets) => (id === 'stg_api_key' || id === 'stg_region' ? `variables/${id}` : `connections/${id}`);
    const kvData = (id: keyof Secrets, value: string): Record<string, unknown> =>
      kvPath(id).startsWith('variables/') ? { value } : { conn_type: 'postgres', host: `${id}.internal`, login: 'etl', password: value, port: 5432, schema: 'dwh' };
    for (const id of Object.keys(secrets) as Array<keyof Secrets>) await bao.putSecret('secret', kvPath(id), kvData(id, secrets[id]), 2);
    await bao.writeReadPolicy('gateway-read', ['secret']);
    await bao.enableApprole();
    const role = await bao.createApproleRole('secrets-gateway', ['gateway-read']);
    registerSecrets([bao.rootToken, role.secretId]);

    // ---- Access control shared by the replicas: one signing key; each its own audit file (a hash chain each).
    const gwDir = path.join(dir, 'gateway');
    mkdirSync(gwDir);
    const signingKey = randomBytes(32).toString('base64url');
    const auditKey = randomBytes(32).toString('base64url');
    const versionKey = randomBytes(32).toString('base64url');
    writeFileSync(path.join(gwDir, 'signing-key'), signingKey, { mode: 0o600 });
    writeFileSync(path.join(gwDir, 'audit-key'), auditKey, { mode: 0o600 });
    writeFileSync(path.join(gwDir, 'approle-secret-id'), role.secretId, { mode: 0o600 });
    registerSecrets([signingKey, auditKey, versionKey]);
    const sign = (claims: Record<string, unknown>, ttlSeconds = 3600) =>
      createSigner({ key: signingKey, algorithm: 'HS256', kid: TEST_KID, expiresIn: ttlSeconds * 1000 })(claims);
    const vault = { type: 'vault', url: bao.url, auth_type: 'approle', role_id: role.roleId, secret_id_path: path.join(gwDir, 'approle-secret-id'), timeout_seconds: 3 };
    mkdirSync(path.join(ARTIFACTS_DIR, 'audit'), { recursive: true });
    const runTag = `${process.pid}-${randomBytes(3).toString('hex')}`;

    const makeReplica = async (name: string): Promise<Replica> => {
      const port = await freePort();
      const auditFile = path.join(ARTIFACTS_DIR, 'audit', `staging-${name}-${runTag}.log`);
      const configPath = path.join(gwDir, `${name}.yaml`);
      writeFileSync(
        configPath,
        stringify({
          server: { host: '127.0.0.1', port, shutdown_timeout_seconds: 10 },
          log: { level: 'info' },
          auth: {
            keys: [{ kid: TEST_KID, alg: 'HS256', secret_file: path.join(gwDir, 'signing-key') }],
            // The workers' token carries no scopes: their service identity is granted what they read.
            policies: [{ match: { sub: WORKER_SUBJECT }, grants: ['connections:read:stg_*', 'variables:read:stg_*', ...(options.extraGrants ?? [])] }],
          },
          audit: { file: auditFile, key_file: path.join(gwDir, 'audit-key') },
          cache: { redis_url: redis.url, redis_channel: INVALIDATION_CHANNEL, version_key: versionKey, stale_while_revalidate_seconds: 0 },
          backends: [
            // Connections are cached for a short TTL: a rotation in Vault is served after it, with no invalidation.
            { ...vault, name: 'vault-connections', kinds: ['connections'], cache_ttl_seconds: connectionTtl },
            // Variables are cached for the default TTL (300 s): only an invalidation makes a rotation visible early.
            { ...vault, name: 'vault-variables', kinds: ['variables'] },
          ],
        }),
      );
      const replica: Replica = {
        name,
        port,
        base: `http://127.0.0.1:${port}`,
        auditFile,
        proc: undefined as unknown as ManagedProcess,
        start: async () => {
          await waitPortFree(port);
          replica.proc = spawnManaged(process.execPath, [path.join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', configPath], {
            cwd: gwDir,
            logFile: path.join(gwDir, `${name}.log`),
          });
          await waitReady(`gateway ${name}`, replica.proc, async () => (await fetch(`${replica.base}/readyz`, { signal: AbortSignal.timeout(1000) })).ok, 30_000, 50);
        },
      };
      await replica.start();
      return replica;
    };
    const replicas = (await Promise.all([makeReplica('replica-a'), makeReplica('replica-b')])) as [Replica, Replica];
    stopped.push(async () => {
      for (const r of replicas) await r.proc.stop(15_000);
    });
    mark('replicas');

    // ---- HAProxy: round robin over both replicas, health-checking /readyz as a Kubernetes Service follows
    // readiness; a request whose replica died before answering is retried on the other one.
    const lbPort = await freePort();
    const statsPort = await freePort();
    const haproxyCfg = path.join(dir, 'haproxy.cfg');
    writeFileSync(
      haproxyCfg,
      `global
  log stdout format raw local0 info
  maxconn 512
defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client 60s
  timeout server 15s
  timeout http-keep-alive 30s
frontend gateway
  bind 127.0.0.1:${lbPort}
  default_backend replicas
frontend stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout 502 503 504
${replicas.map((r) => `  server ${r.name} 127.0.0.1:${r.port} check`).join('\n')}
`,
    );
    const haproxy = spawnManaged(haproxyBin, ['-db', '-f', haproxyCfg], { cwd: dir, logFile: path.join(dir, 'haproxy.log') });
    stopped.push(async () => haproxy.stop());
    const lbUrl = `http://127.0.0.1:${lbPort}`;
    const lbState = async (replica: Replica): Promise<string> => {
      const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`, { signal: AbortSignal.timeout(1000) })).text();
      const line = csv.split('\n').find((l) => l.startsWith(`replicas,${replica.name},`));
      return line?.split(',')[17] ?? 'unknown';
    };
    await waitReady('haproxy', haproxy, async () => (await Promise.all(replicas.map(lbState))).every((s) => s === 'UP'), 20_000, 100);
    mark('haproxy');

    // ---- Airflow: one environment for every component. The workers' secrets backend is the project's.
    const workerToken = sign({ sub: WORKER_SUBJECT });
    const tokenFile = path.join(home, 'gateway-token');
    writeFileSync(tokenFile, `${workerToken}\n`, { mode: 0o600 });
    const apiPort = await freePort();
    const fernetKey = randomBytes(32).toString('base64url') + '=';
    const jwtSecret = randomBytes(24).toString('hex');
    registerSecrets([workerToken, fernetKey, jwtSecret]);
    const kwargs = JSON.stringify({ url: lbUrl, token_path: tokenFile, timeout: 5, retries: 3 });
    const sqlConn = `postgresql+psycopg2://${pg.user}@${pg.host}:${pg.port}/${pg.database}`;
    const env: NodeJS.ProcessEnv = {
      PATH: `${path.dirname(python)}:${process.env['PATH'] ?? ''}`,
      HOME: home,
      LANG: 'C.UTF-8',
      PYTHONIOENCODING: 'utf-8',
      PYTHONDONTWRITEBYTECODE: '1',
      // This checkout's client, whichever checkout the venv's editable install points at.
      PYTHONPATH: path.join(REPO_ROOT, 'clients/airflow/src'),
      AWS_EC2_METADATA_DISABLED: 'true',
      METADATA_SERVER_DETECTION: 'none',
      AIRFLOW_HOME: home,
      AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__DAGS_FOLDER: path.join(home, 'dags'),
      AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
      AIRFLOW__CORE__FERNET_KEY: fernetKey,
      AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://127.0.0.1:${apiPort}/execution/`,
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: 'True',
      AIRFLOW__CORE__PARALLELISM: '32',
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: sqlConn,
      AIRFLOW__API__HOST: '127.0.0.1',
      AIRFLOW__API__PORT: String(apiPort),
      AIRFLOW__API__WORKERS: '1',
      AIRFLOW__API_AUTH__JWT_SECRET: jwtSecret,
      AIRFLOW__LOGGING__BASE_LOG_FOLDER: path.join(home, 'logs'),
      AIRFLOW__CELERY__BROKER_URL: `redis://127.0.0.1:${redis.port}/1`,
      AIRFLOW__CELERY__RESULT_BACKEND: `db+postgresql+psycopg2://${pg.user}@${pg.host}:${pg.port}/${pg.database}`,
      AIRFLOW__CELERY__WORKER_CONCURRENCY: String(options.concurrency ?? 2),
      AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: '1',
      AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL: '5',
      AIRFLOW__WORKERS__SECRETS_BACKEND: 'airflow_secrets_gateway.SecretsGatewayBackend',
      AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS: kwargs,
      SG_STAGING_TASKS_PER_RUN: String(options.tasksPerRun ?? 10),
      SG_STAGING_HOLD_SECONDS: String(options.holdSeconds ?? 1),
    };
    await run(airflowBin, ['db', 'migrate'], env, home);
    mark('airflow db migrate');

    // Stopped together, first (workers finish their tasks' shutdown; nothing reads the gateways after).
    const airflowProcs: ManagedProcess[] = [];
    stopped.unshift(async () => {
      await Promise.all(airflowProcs.map((p) => p.stop(20_000)));
    });
    const component = (name: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
      const proc = spawnManaged(airflowBin, args, { cwd: home, env: { ...env, ...extraEnv }, logFile: path.join(dir, `airflow-${name}.log`) });
      airflowProcs.push(proc);
      return proc;
    };
    const apiServer = component('api-server', ['api-server', '--host', '127.0.0.1', '--port', String(apiPort)]);
    const scheduler = component('scheduler', ['scheduler']);
    const dagProcessor = component('dag-processor', ['dag-processor']);
    const startWorker = (name: string, extraEnv: NodeJS.ProcessEnv = {}) =>
      component(name, ['celery', 'worker', '--celery-hostname', `${name}@staging`, '--skip-serve-logs', '--without-gossip', '--without-mingle'], { SG_STAGING_WORKER: name, ...extraEnv });
    const workerReady = async (w: ManagedProcess) => await waitReady('celery worker', w, async () => tailFile(w.logFile, 200_000).includes('ready.'), 180_000, 500);
    let workers = ['worker-1', 'worker-2'].map((name) => startWorker(name));
    const apiBase = `http://127.0.0.1:${apiPort}`;
    await waitReady('airflow api-server', apiServer, async () => (await fetch(`${apiBase}/api/v2/monitor/health`, { signal: AbortSignal.timeout(2000) })).ok, 180_000, 500);
    mark('airflow api-server');

    // A token for Airflow's REST API (the simple auth manager with every user an admin, as in a test).
    const apiToken = await eventually(
      'an Airflow API token',
      async () => {
        const res = await fetch(`${apiBase}/auth/token`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) return undefined;
        return ((await res.json()) as { access_token: string }).access_token;
      },
      30_000,
    );
    registerSecrets([apiToken]);
    const api = async (method: string, route: string, body?: unknown): Promise<any> => {
      const res = await fetch(`${apiBase}/api/v2${route}`, {
        method,
        headers: { authorization: `Bearer ${apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Airflow API ${method} ${route}: ${res.status} ${text.slice(0, 500)}`);
      return text ? JSON.parse(text) : undefined;
    };
    await eventually('the DAG parsed', async () => ((await api('GET', `/dags/${DAG_ID}`).catch(() => undefined)) ? true : undefined), 180_000, 500);
    mark('dag parsed');
    // Both Celery workers up and listening to the broker (their log says "ready").
    for (const w of workers) await workerReady(w);
    for (const p of [scheduler, dagProcessor]) if (!p.isRunning()) throw new Error(`an Airflow component exited: ${tailFile(p.logFile)}`);
    mark('celery workers');

    const operatorToken = () => sign({ sub: 'staging-operator', scope: 'connections:read:* variables:read:* cache:invalidate:*' }, 600);
    const sqlCounts = async (sql: string): Promise<Record<string, number>> => {
      const out = await pg.psql(sql);
      const counts: Record<string, number> = {};
      for (const line of out.trim().split('\n').filter(Boolean)) {
        const [state, n] = line.split('|');
        counts[state || 'none'] = Number(n);
      }
      return counts;
    };

    return {
      secrets,
      replicas,
      lbUrl,
      bao,
      pg,
      timings,
      operatorToken,
      rotate: async (id, value) => {
        registerSecrets([value]);
        await bao.putSecret('secret', kvPath(id), kvData(id, value), 2);
        secrets[id] = value;
      },
      invalidate: async (body) => {
        const res = await fetch(`${lbUrl}/v1/cache/invalidate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken()}` },
          body: JSON.stringify(body),
        });
        if (res.status !== 200) throw new Error(`invalidate: ${res.status} ${await res.text()}`);
        return (await res.json()) as { invalidated: number; fanout: string };
      },
      lbState,
      lbSummary: () => {
        const summary = { requests: 0, status: {} as Record<string, number>, servers: {} as Record<string, number>, retried: 0, retriedAt: [] as number[] };
        const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
        // [04/Dec/2026:14:48:14.123], in local time.
        const when = (stamp: string) => {
          const m = /^\[(\d+)\/(\w+)\/(\d+):(\d+):(\d+):(\d+)\.(\d+)\]$/.exec(stamp);
          return m ? new Date(+m[3]!, months.indexOf(m[2]!), +m[1]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!).getTime() : NaN;
        };
        // httplog: client [date] frontend backend/server timers status bytes - - flags conns queues "request"
        for (const line of readFileSync(haproxy.logFile, 'utf8').split('\n')) {
          const f = line.split(' ');
          if (f[2] !== 'gateway') continue;
          summary.requests++;
          summary.status[f[5]!] = (summary.status[f[5]!] ?? 0) + 1;
          summary.servers[f[3]!] = (summary.servers[f[3]!] ?? 0) + 1;
          if (f[10]?.split('/')[4] !== '0') {
            summary.retried++;
            summary.retriedAt.push(when(f[1]!));
          }
        }
        return summary;
      },
      backendReads: () => {
        const fromGateways = bao.auditedRequests().filter((r) => r.policies.includes('gateway-read') && r.operation === 'read');
        return { values: fromGateways.filter((r) => r.path.startsWith('secret/data/')).length, versions: fromGateways.filter((r) => r.path.startsWith('secret/metadata/')).length };
      },
      auditReads: (replica) => {
        let text = '';
        try {
          text = readFileSync(replica.auditFile, 'utf8');
        } catch {
          return 0;
        }
        return text
          .split('\n')
          .filter(Boolean)
          .filter((line) => (JSON.parse(line) as { subject?: string }).subject === WORKER_SUBJECT).length;
      },
      triggerRun: async (runId, dagId = DAG_ID) => (await api('POST', `/dags/${dagId}/dagRuns`, { dag_run_id: runId, logical_date: null })).dag_run_id as string,
      taskStates: (dagId = DAG_ID) => sqlCounts(`SELECT coalesce(state, 'none'), count(*) FROM task_instance WHERE dag_id = '${dagId}' GROUP BY 1`),
      runStates: (dagId = DAG_ID) => sqlCounts(`SELECT state, count(*) FROM dag_run WHERE dag_id = '${dagId}' GROUP BY 1`),
      xcoms: async (dagId, runId) => {
        const out = await pg.psql(`SELECT value FROM xcom WHERE dag_id = '${dagId}' AND run_id = '${runId}' AND key = 'return_value'`);
        return out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const value = JSON.parse(line) as unknown;
            return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
          });
      },
      restartWorkers: async (extraEnv) => {
        await Promise.all(workers.map((w) => w.stop(30_000)));
        // Each start appends to the worker's log: wait for a new "ready." line, not the old one.
        const before = workers.map((w) => tailFile(w.logFile, 10_000_000).split('ready.').length);
        workers = ['worker-1', 'worker-2'].map((name) => startWorker(name, extraEnv));
        for (const [i, w] of workers.entries()) await waitReady('celery worker', w, async () => tailFile(w.logFile, 10_000_000).split('ready.').length > before[i]!, 180_000, 500);
      },
      results: async () => {
        const out = await pg.psql(`SELECT json_build_object('run_id', run_id, 'map_index', map_index, 'value', value) FROM xcom WHERE dag_id = '${DAG_ID}' AND key = 'return_value'`);
        return out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const row = JSON.parse(line) as { run_id: string; map_index: number; value: unknown };
            const value = (typeof row.value === 'string' ? JSON.parse(row.value) : row.value) as Omit<TaskResult, 'run_id' | 'map_index'>;
            return { run_id: row.run_id, map_index: row.map_index, ...value };
          });
      },
      stop: async () => {
        for (const s of stopped) await s().catch(() => undefined);
        // For the leak check, before the servers go: the XComs as stored, and OpenBao's audit device (it HMACs values
        // and tokens). OpenBao's dev-mode server log is not kept: it prints the root token by design.
        const xcoms = await pg.psql(`SELECT dag_id, run_id, task_id, map_index, value FROM xcom`).catch((e: Error) => `(xcom dump failed: ${e.message})`);
        keepLog(`staging-xcom`, xcoms);
        if (bao.auditLogFile) keepLog('staging-openbao-audit', readFileSync(bao.auditLogFile, 'utf8'));
        await Promise.all([pg.dispose(), redis.dispose(), bao.dispose()]);
        // Every log the stack wrote: gateways, HAProxy, Airflow components, task logs.
        for (const file of [...filesUnder(dir)].filter((f) => f.endsWith('.log') || f.includes(`${path.sep}logs${path.sep}`))) {
          keepLog(`staging-${path.relative(dir, file).replaceAll(path.sep, '_').replace(/[^\w.-]/g, '_')}`, readFileSync(file, 'utf8'));
        }
      },
    };
  } catch (e) {
    for (const s of stopped) await s().catch(() => undefined);
    await Promise.all([pg.dispose(), redis.dispose(), bao.dispose()]);
    throw e;
  }
}
