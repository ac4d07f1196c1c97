// The Python client's cost to a task, measured inside a real Airflow 3.3.2 process (issue 22):
// BaseHook.get_connection through each secrets backend, on the same ten connections.
//
//   node bench/airflow-client/run.ts [--rounds 3] [--per-round 300] [--compare-rev REV]
//
// - floor:   Airflow's EnvironmentVariablesBackend (AIRFLOW_CONN_*): no network at all;
// - gateway: SecretsGatewayBackend (this checkout's clients/airflow) -> the real gateway
//            (`serve`, cache on and warm) -> the vault backend -> OpenBao;
// - gateway-batch: one task's worth: prefetch() of the ten ids (one POST /v1/lookup), then
//            get_connection of each, served from that answer;
// - vault:   Airflow's own VaultBackend (hvac) -> the same OpenBao;
// - aws:     Airflow's own SecretsManagerBackend (boto3) -> moto_server, same data.
// Each mode runs in a fresh Airflow process: its first lookup (backend built, connection
// opened) is reported apart; then 50 warm passes, then ROUNDS x PER_ROUND timed lookups. The gateway
// has served 3,000 lookups before the first mode runs.
// Writes bench/airflow-client/RESULTS.md and RESULTS.json.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { makeTempDir } from '../../test/helpers/servers/common.ts';
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto } from '../../test/helpers/servers/moto.ts';
import { startOpenBao } from '../../test/helpers/servers/openbao.ts';
import { benchGatewayConfig } from '../lib/gateway-config.ts';
import { machineInfo } from '../lib/report.ts';
import { REPO_DIR, startGateway } from '../lib/processes.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'per-round': { type: 'string', default: '300' },
    // Also measure the client as it was at this git revision (e.g. the requests-based 0.1.0), against the same gateway.
    'compare-rev': { type: 'string' },
  },
});
const PYTHON = process.env['AIRFLOW_PYTHON'] ?? join(REPO_DIR, '.venv/airflow/bin/python');
const HERE = join(REPO_DIR, 'bench/airflow-client');
// Airflow's own providers, for the comparison only: pinned, installed beside (not into) the Airflow venv.
const PROVIDERS = ['apache-airflow-providers-hashicorp==4.8.4', 'hvac==2.4.0', 'apache-airflow-providers-amazon==9.39.0', 'boto3==1.44.8', 'botocore==1.44.8', 's3transfer==0.19.3', 'jmespath==1.1.0'];
const PROVIDERS_DIR = join(tmpdir(), 'sg-bench-airflow-providers-1');

const FIRST_RUNS = 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const IDS = Array.from({ length: 10 }, (_, i) => `bench_conn_${i}`);
const connection = (i: number) => ({
  conn_type: 'postgres',
  host: `db-${i}.internal`,
  login: 'etl',
  password: `bench-pw-${i}`,
  schema: 'warehouse',
  port: 5432,
  extra: { sslmode: 'require', application_name: 'etl', options: { statement_timeout: 30000 } },
});

interface ModeResult {
  mode: string;
  import_ms: number;
  first_lookup_ms: number;
  samples: number;
  p50_ms: number;
  p99_ms: number;
  round_p50s_ms?: number[];
  batch_size?: number;
}

if (!existsSync(join(PROVIDERS_DIR, '.done'))) {
  execFileSync(PYTHON, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', PROVIDERS_DIR, ...PROVIDERS], { stdio: 'inherit' });
  writeFileSync(join(PROVIDERS_DIR, '.done'), PROVIDERS.join('\n'));
}

const machineAtStart = machineInfo();
const bao = await startOpenBao();
const moto = await startMoto();
const dir = makeTempDir('bench-airflow-client');
try {
  const sm = moto.secretsManagerClient();
  for (const [i, id] of IDS.entries()) {
    await bao.putSecret('secret', `connections/${id}`, connection(i), 2);
    await sm.send(new CreateSecretCommand({ Name: `airflow/connections/${id}`, SecretString: JSON.stringify(connection(i)) }));
  }
  sm.destroy();
  const { config, token } = benchGatewayConfig({ backends: [{ type: 'vault', url: bao.url, token: bao.rootToken }], log: 'warn', dir });
  const gateway = await startGateway({ config, dir });
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  // A gateway that has served a while (its cache filled, its hot path compiled), as in production.
  for (let i = 0; i < 3000; i++) {
    const res = await fetch(`${gateway.url}/v1/connections/${IDS[i % IDS.length]}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`warm-up: ${res.status}`);
    await res.arrayBuffer();
  }

  const base: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    LANG: 'C.UTF-8',
    AIRFLOW_HOME: dir,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(dir, 'airflow.db')}`,
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'WARNING',
    PYTHONPATH: [join(REPO_DIR, 'clients/airflow/src'), PROVIDERS_DIR].join(':'),
    PYTHONDONTWRITEBYTECODE: '1',
  };
  const backend = (cls: string, kwargs: object): NodeJS.ProcessEnv => ({ AIRFLOW__SECRETS__BACKEND: cls, AIRFLOW__SECRETS__BACKEND_KWARGS: JSON.stringify(kwargs) });
  const gatewayBackend = backend('airflow_secrets_gateway.SecretsGatewayBackend', { url: gateway.url, token_path: join(dir, 'token') });
  const modes: Array<[string, NodeJS.ProcessEnv]> = [
    ['floor', Object.fromEntries(IDS.map((id, i) => [`AIRFLOW_CONN_${id.toUpperCase()}`, JSON.stringify(connection(i))]))],
    ['gateway', gatewayBackend],
    ['gateway-batch', gatewayBackend],
    ['vault', backend('airflow.providers.hashicorp.secrets.vault.VaultBackend', { url: bao.url, token: bao.rootToken, mount_point: 'secret', connections_path: 'connections', kv_engine_version: 2 })],
    [
      'aws',
      {
        ...backend('airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend', { connections_prefix: 'airflow/connections', region_name: MOTO_REGION }),
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.url,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: MOTO_REGION,
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    ],
  ];
  const runMode = (mode: string, env: NodeJS.ProcessEnv, rounds: string): ModeResult => {
    const out = execFileSync(PYTHON, [join(HERE, 'lookups.py'), mode, JSON.stringify(IDS), rounds, args['per-round']!], {
      env: { ...base, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(out.trim().split('\n').at(-1)!) as ModeResult;
  };
  if (args['compare-rev']) {
    // The client's source at that revision, extracted beside this run; its directory goes first on PYTHONPATH.
    const old = join(dir, 'client-at-rev');
    execFileSync('bash', ['-c', `mkdir -p "${old}" && git -C "${REPO_DIR}" archive "${args['compare-rev']}" clients/airflow/src | tar -x -C "${old}"`]);
    modes.splice(2, 0, [`gateway@${args['compare-rev']}`, { ...gatewayBackend, PYTHONPATH: [join(old, 'clients/airflow/src'), PROVIDERS_DIR].join(':') }]);
  }
  const results: ModeResult[] = [];
  for (const [mode, env] of modes) {
    const result = runMode(mode, env, args.rounds!);
    // The first lookup of a fresh process, over FIRST_RUNS more fresh processes (one sample is mostly noise).
    const firsts = [result.first_lookup_ms, ...Array.from({ length: FIRST_RUNS - 1 }, () => runMode(mode, env, '0').first_lookup_ms)];
    result.first_lookup_ms = median(firsts);
    results.push(result);
    console.log(JSON.stringify(result));
  }
  await gateway.stop();
  writeFileSync(join(HERE, 'RESULTS.json'), JSON.stringify({ machine: machineAtStart, rounds: Number(args.rounds), perRound: Number(args['per-round']), results }, null, 2) + '\n');
  writeFileSync(join(HERE, 'RESULTS.md'), report(results));
} finally {
  await moto.dispose();
  await bao.dispose();
}

function report(results: ModeResult[]): string {
  const by = (m: string) => results.find((r) => r.mode === m)!;
  const f = (n: number) => n.toFixed(2);
  const label: Record<string, string> = {
    floor: 'environment variables (the floor)',
    gateway: "**the gateway's `SecretsGatewayBackend`**",
    vault: "Airflow's own `VaultBackend` (hvac), same local OpenBao",
    aws: "Airflow's own `SecretsManagerBackend` (boto3), same moto",
  };
  const machine = machineAtStart as unknown as Record<string, unknown>;
  const compared = results.find((r) => r.mode.startsWith('gateway@'));
  if (compared) label[compared.mode] = `the client as it was at \`${compared.mode.slice('gateway@'.length)}\` (\`requests\`), same gateway`;
  const rows = ['floor', 'gateway', ...(compared ? [compared.mode] : []), 'vault', 'aws'].map((m) => `| ${label[m]} | ${f(by(m).p50_ms)} ms | ${f(by(m).p99_ms)} ms | ${f(by(m).first_lookup_ms)} ms |`);
  const batch = by('gateway-batch');
  return `# The Python client inside Airflow: what a lookup costs a task

\`node bench/airflow-client/run.ts${args['compare-rev'] ? ` --compare-rev ${args['compare-rev']}` : ''}\` (with \`AIRFLOW_PYTHON\`, default \`.venv/airflow/bin/python\`: Airflow 3.3.2). Airflow's
Vault and AWS providers are installed for the comparison only, pinned, into \`${PROVIDERS_DIR.replace(tmpdir(), '$TMPDIR')}\`.

Each backend runs in a fresh Airflow process calling \`airflow.sdk.BaseHook.get_connection\` (the Task SDK's path, as task
code and hooks call it) on the same ten connections (8 fields, a nested JSON \`extra\`): 50 warm passes, then
${Number(args.rounds)} round(s) of ${Number(args['per-round'])} timed lookups. The gateway runs as \`serve\` with its default cache (warm), access
control, the audit log and metrics on, in front of OpenBao, and has served 3,000 lookups before the first mode runs;
Airflow's \`VaultBackend\` asks that OpenBao directly.
"first lookup" is the first \`get_connection\` of a fresh process (the backend built, the connection opened), the median over
${FIRST_RUNS} fresh processes. The machine is shared (2 cores, other work running: see the load average below), so p99s are noisy.

| backend used by Airflow | p50 per lookup | p99 | first lookup |
| --- | ---: | ---: | ---: |
${rows.join('\n')}

- The client over the floor, p50: +${f(by('gateway').p50_ms - by('floor').p50_ms)} ms. \`VaultBackend\` / client, p50: **${f(by('vault').p50_ms / by('gateway').p50_ms)} ×**.
- **Batch** (opt-in \`prefetch()\`): ${batch.batch_size} connections, one \`POST /v1/lookup\` and ${batch.batch_size} \`get_connection\` calls served from
  its answer: **${f(batch.p50_ms)} ms** p50 in total (p99 ${f(batch.p99_ms)} ms), over ${batch.samples} tasks' worth.
  For comparison, ten lookups at the floor: ${f(10 * by('floor').p50_ms)} ms.
- Round p50s (gateway): ${(by('gateway').round_p50s_ms ?? []).map(f).join(', ')} ms.
- Targets (issue 22): p50 ≤ 0.4 ms, p99 ≤ 1.5 ms, ten connections batched ≤ 1.5 ms.

Machine: ${JSON.stringify(machine)}; load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}
`;
}
