// What a task pays per lookup, side by side, measured inside real Celery task processes of the
// staging stack (test/helpers/staging.ts: Airflow 3.3.2, the CeleryExecutor, two workers, HAProxy
// and two gateway replicas in front of OpenBao), in one run, on the same OpenBao and moto data:
//
//   floor        the environment-variable backend (AIRFLOW_CONN_* in the workers' environment)
//   gateway      the project's SecretsGatewayBackend through HAProxy, gateway cache warm
//   vault        Airflow's own VaultBackend (hvac) against the same OpenBao
//   aws          Airflow's own SecretsManagerBackend (boto3) against moto
//   … +use_cache the same with Airflow's [secrets] use_cache = True
//
// For each mode the two Celery workers are restarted with that backend, and the DAG
// bench/airflow-staging/dags/lookup_cost_dag.py runs twice (10 task instances × 50 get_connection
// = 500 lookups a run): a first run (cold), then the measured run. Backend calls are counted at the
// servers: OpenBao's audit device and moto's request log.
//
//   node bench/airflow-staging/run.ts          writes bench/airflow-staging/RESULTS.md (about 5 minutes)
//
// Airflow's Vault and AWS providers are installed for the comparison only, pinned, beside (not into)
// the Airflow venv, in $TMPDIR/sg-bench-airflow-providers-staging-1.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { AIRFLOW_PYTHON, secretValue, startStagingStack } from '../../test/helpers/staging.ts';
import { REPO_ROOT } from '../../test/helpers/servers/common.ts';
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto } from '../../test/helpers/servers/moto.ts';

const HERE = import.meta.dirname;
const PROVIDERS = ['apache-airflow-providers-hashicorp==4.8.4', 'hvac==2.4.0', 'apache-airflow-providers-amazon==9.39.0', 'boto3==1.44.8', 'botocore==1.44.8', 's3transfer==0.19.3', 'jmespath==1.1.0'];
const PROVIDERS_DIR = path.join(tmpdir(), 'sg-bench-airflow-providers-staging-1');
const DAG_ID = 'lookup_cost';
const IDS = Array.from({ length: 10 }, (_, i) => `bench_${i}`);

interface TaskTimings {
  first_ms: number;
  samples_ms: number[];
}
interface ModeResult {
  mode: string;
  lookups: number;
  p50: number;
  p99: number;
  firstP50: number;
  firstMax: number;
  coldCalls: number;
  warmCalls: number;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round((p / 100) * (s.length - 1)))]!;
};

if (!existsSync(path.join(PROVIDERS_DIR, '.installed')) || readFileSync(path.join(PROVIDERS_DIR, '.installed'), 'utf8') !== PROVIDERS.join('\n')) {
  console.log(`installing ${PROVIDERS.join(' ')} into ${PROVIDERS_DIR}`);
  execFileSync(AIRFLOW_PYTHON, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', PROVIDERS_DIR, ...PROVIDERS], { stdio: 'inherit' });
  writeFileSync(path.join(PROVIDERS_DIR, '.installed'), PROVIDERS.join('\n'));
}

const startedAt = new Date();
const load0 = loadavg();
const moto = await startMoto();
// A warm gateway cache: connections stay fresh for 300 s, longer than the bench.
const stack = await startStagingStack({ connectionTtlSeconds: 300, extraDagFiles: [path.join(HERE, 'dags/lookup_cost_dag.py')], extraGrants: ['connections:read:bench_*'] });
console.log(`stack up: ${JSON.stringify(stack.timings)}`);

try {
  // The same ten connections in OpenBao, moto and the environment.
  const connection = (i: number) => ({ conn_type: 'postgres', host: `bench-${i}.internal`, login: 'etl', password: secretValue(`bench-pw-${i}`), port: 5432, schema: 'dwh', extra: { sslmode: 'require', application_name: `bench-${i}` } });
  const connections = IDS.map((_, i) => connection(i));
  const sm = moto.secretsManagerClient();
  for (const [i, id] of IDS.entries()) {
    await stack.bao.putSecret('secret', `connections/${id}`, connections[i]!, 2);
    await sm.send(new CreateSecretCommand({ Name: `airflow/connections/${id}`, SecretString: JSON.stringify(connections[i]) }));
  }
  // Airflow's VaultBackend gets a token of its own, named so that its calls can be counted apart.
  const created = await stack.bao.request('POST', 'auth/token/create', { display_name: 'airflow-vaultbackend', policies: ['gateway-read'], ttl: '2h' });
  const vaultToken = (created.body as { auth: { client_token: string } }).auth.client_token;

  // Backend calls at the servers: every request OpenBao served except the harness's own (root), and moto's requests.
  const baoCalls = () => stack.bao.auditedRequests().filter((r) => !r.policies.includes('root')).length;
  const motoCalls = () => (readFileSync(moto.logFile, 'utf8').match(/"POST \/ HTTP/g) ?? []).length;
  const calls = () => baoCalls() + motoCalls();

  const clientPath = [path.join(REPO_ROOT, 'clients/airflow/src'), PROVIDERS_DIR].join(':');
  const backend = (cls: string, kwargs: object): NodeJS.ProcessEnv => ({ AIRFLOW__WORKERS__SECRETS_BACKEND: cls, AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS: JSON.stringify(kwargs) });
  const vault = backend('airflow.providers.hashicorp.secrets.vault.VaultBackend', { url: stack.bao.url, token: vaultToken, mount_point: 'secret', connections_path: 'connections', kv_engine_version: 2 });
  const aws = {
    ...backend('airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend', { connections_prefix: 'airflow/connections', region_name: MOTO_REGION }),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.url,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: MOTO_REGION,
  };
  const useCache = { AIRFLOW__SECRETS__USE_CACHE: 'True' };
  const modes: Array<[string, NodeJS.ProcessEnv]> = [
    ['environment variables (the floor)', { ...backend('', {}), ...Object.fromEntries(IDS.map((id, i) => [`AIRFLOW_CONN_${id.toUpperCase()}`, JSON.stringify(connections[i])])) }],
    ['the gateway (SecretsGatewayBackend, through HAProxy)', {}],
    ["Airflow's VaultBackend (hvac)", vault],
    ["Airflow's VaultBackend, use_cache", { ...vault, ...useCache }],
    ["Airflow's SecretsManagerBackend (boto3, moto)", aws],
    ["Airflow's SecretsManagerBackend, use_cache", { ...aws, ...useCache }],
  ];

  let runs = 0;
  const runDag = async (): Promise<string> => {
    const runId = `bench-${++runs}`;
    await stack.triggerRun(runId, DAG_ID);
    for (;;) {
      const state = (await stack.pg.psql(`SELECT state FROM dag_run WHERE dag_id = '${DAG_ID}' AND run_id = '${runId}'`)).trim();
      if (state === 'success') return runId;
      if (state === 'failed') throw new Error(`${runId} failed: ${JSON.stringify(await stack.taskStates(DAG_ID))}`);
      await sleep(250);
    }
  };

  const results: ModeResult[] = [];
  for (const [mode, env] of modes) {
    await stack.restartWorkers({ PYTHONPATH: clientPath, ...env });
    const c0 = calls();
    await runDag();
    const c1 = calls();
    const runId = await runDag();
    // OpenBao's audit device writes as it answers; give the file a moment.
    await sleep(500);
    const c2 = calls();
    const timings = (await stack.xcoms(DAG_ID, runId)) as TaskTimings[];
    const samples = timings.flatMap((t) => t.samples_ms);
    const firsts = timings.map((t) => t.first_ms);
    const r: ModeResult = { mode, lookups: samples.length + firsts.length, p50: percentile(samples, 50), p99: percentile(samples, 99), firstP50: percentile(firsts, 50), firstMax: Math.max(...firsts), coldCalls: c1 - c0, warmCalls: c2 - c1 };
    results.push(r);
    console.log(JSON.stringify(r));
  }

  // ---- RESULTS.md
  const floor = results[0]!;
  const gw = results[1]!;
  const f = (ms: number) => `${ms.toFixed(2)} ms`;
  const ratio = (x: number, y: number) => (y === 0 ? (x === 0 ? '1 ×' : '∞') : `${(x / y).toFixed(1)} ×`);
  const rows = results.map(
    (r) =>
      `| ${r.mode} | ${f(r.p50)} | ${f(r.p99)} | ${ratio(r.p50, floor.p50)} | ${ratio(r.p50, gw.p50)} | ${f(r.firstP50)} (max ${f(r.firstMax)}) | ${r.coldCalls} | ${r.warmCalls} |`,
  );
  const vaultNoCache = results[2]!;
  const awsNoCache = results[4]!;
  const gwCalls = Math.max(gw.warmCalls, 0);
  const fewer = (native: ModeResult) => (gwCalls === 0 ? `${native.warmCalls} vs 0` : `${(native.warmCalls / gwCalls).toFixed(0)} ×`);
  const target = (ok: boolean) => (ok ? 'met' : '**missed**');
  const md = `# What a task pays per lookup: inside Celery task processes of the staging stack

Written by \`node bench/airflow-staging/run.ts\` on ${startedAt.toISOString().slice(0, 10)} (${startedAt.toISOString()} → ${new Date().toISOString()}). Every number comes from this one run.

Each mode restarts the staging stack's two Celery workers (test/helpers/staging.ts: Airflow 3.3.2, CeleryExecutor, PostgreSQL, Redis, OpenBao, HAProxy, two gateway replicas) with one secrets backend, then runs the DAG [\`lookup_cost\`](dags/lookup_cost_dag.py) twice: 10 task instances, each a fresh task process calling \`BaseHook.get_connection\` 50 times over ten connections (8 fields, a JSON \`extra\`), **500 lookups a run**. The first run is the cold one; the second is measured. Percentiles are over the measured run's 490 lookups that are not a process's first; "first lookup" is each task process's first \`get_connection\` (the backend built, its connection opened), what every fresh process, a KubernetesExecutor pod, pays. Backend calls are counted at the servers (OpenBao's audit device, every request but the harness's own; moto's request log) during each run. The gateway's connections are cached 300 s; its calls go through HAProxy to a replica, and the replica's to OpenBao.

| backend the workers use | p50 per lookup | p99 | p50 / floor | p50 / gateway | first lookup, median of 10 processes | backend calls, first run (500 lookups) | backend calls, second run (500 lookups) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

## Targets (issue 19, point 5)

| target | measured | |
| --- | --- | --- |
| a warm gateway lookup within 2 ms of the environment floor at p50 | ${f(gw.p50)} vs ${f(floor.p50)}: +${f(gw.p50 - floor.p50)} | ${target(gw.p50 - floor.p50 <= 2)} |
| at least 5 × faster than the native Vault provider at p50 | ${f(vaultNoCache.p50)} vs ${f(gw.p50)}: ${ratio(vaultNoCache.p50, gw.p50)} | ${target(vaultNoCache.p50 / gw.p50 >= 5)} |
| at least 50 × fewer backend calls than the native providers without their cache (a run of 500 lookups) | Vault ${fewer(vaultNoCache)}, Secrets Manager ${fewer(awsNoCache)} | ${target(gwCalls === 0 ? vaultNoCache.warmCalls > 0 && awsNoCache.warmCalls > 0 : Math.min(vaultNoCache.warmCalls, awsNoCache.warmCalls) / gwCalls >= 50)} |

## Reading it

- **use_cache.** Airflow 3.3.2 initialises its \`SecretCache\` only in the DAG processor (\`airflow/sdk/execution_time/context.py\`: "Check cache first (optional; only on dag processor)"); in a task process \`[secrets] use_cache = True\` caches nothing, so the native backends make one call per lookup with it too (the counts above). The code path is the same with and without it: differences in latency between the two rows come from the machine's load.
- **The gateway's calls.** Its first run costs one OpenBao read per connection per replica that was asked (and its AppRole logins were made at start); after that the cache answers, whatever the number of task processes.
- **Latency.** Everything here runs on one shared machine: the Airflow components, four task slots, HAProxy, two replicas and OpenBao, so per-lookup times are several times those of a lone process (\`bench/airflow-client/\` measures the client alone). Compare the rows with each other, not with other runs.

Machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; load average ${load0.map((l) => l.toFixed(2)).join(' / ')} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' / ')} at the end (other engineers share this machine; the whole stack runs on it too). Providers: ${PROVIDERS.join(', ')}.
`;
  writeFileSync(path.join(HERE, 'RESULTS.md'), md);
  console.log(md);
} finally {
  await stack.stop();
  await moto.dispose();
}
