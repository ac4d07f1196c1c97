// Cold misses through the chain (issue 7, §3): five backends (environment, local files,
// OpenBao, moto, the GCP emulator), the key in the last one, every request for a key the
// gateway has never seen. Set against the last backend's own latency (the same SDK call,
// made directly), and against a gateway with that backend alone. Then a key that exists
// nowhere, with negative caching on (the default) and off.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeTempDir } from '../../test/helpers/servers/common.ts';
import { GCP_PROJECT } from '../../test/helpers/backend-fixtures.ts';
import { benchGatewayConfig } from '../lib/gateway-config.ts';
import { measureLoad, startGateway, type ServerProcess } from '../lib/processes.ts';
import { startAwsStore, startGcpStore, startVaultStore } from '../lib/stores.ts';
import type { Measured } from './throughput.ts';

export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export interface ColdResult {
  keys: number;
  /** The SDK calls the GCP backend makes for a lookup (GetSecretVersion of latest, then AccessSecretVersion of
   * that version: the version identity needs its create_time), made directly from the bench process. */
  lastBackendDirect: LatencySummary;
  /** The misses the earlier network backends answer, made directly: OpenBao KV v2 read (404), moto GetSecretValue (ResourceNotFound). */
  vaultMissDirect: LatencySummary;
  awsMissDirect: LatencySummary;
  /** Gateway with the five backends, one cold key per request, one request at a time. */
  chainCold: Measured;
  /** Gateway with the GCP backend alone, same keys, cold. */
  aloneCold: Measured;
  missing: {
    negativeOn: Measured & { backendCallsPerRequest: number };
    negativeOff: Measured & { backendCallsPerRequest: number };
    negativeOffSequential: Measured;
  };
}

function summarize(ms: number[]): LatencySummary {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { n: s.length, p50: at(50), p99: at(99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function timeEach(n: number, call: (i: number) => Promise<unknown>): Promise<LatencySummary> {
  for (let i = 0; i < Math.min(n, 20); i++) await call(i).catch(() => undefined); // warm the client and the connection
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call(i).catch(() => undefined);
    ms.push(performance.now() - t0);
  }
  return summarize(ms);
}

const coldId = (i: number) => `cold_${String(i).padStart(4, '0')}`;

export async function measureCold(options: { keys: number; missingSeconds: number }): Promise<ColdResult> {
  const [vault, aws, gcp] = await Promise.all([startVaultStore(), startAwsStore(), startGcpStore()]);
  const started: ServerProcess[] = [];
  try {
    for (let i = 0; i < options.keys; i++) await gcp.fixture.put('connection', coldId(i), { uri: `postgresql://u:p-${i}@db-${i}.internal:5432/x` });

    // The backends' own latencies, from the bench process, with their real clients.
    const gcpClient = gcp.gcp.client();
    const lastBackendDirect = await timeEach(options.keys, async (i) => {
      const [latest] = await gcpClient.getSecretVersion({ name: `projects/${GCP_PROJECT}/secrets/airflow-connections-${coldId(i)}/versions/latest` });
      return gcpClient.accessSecretVersion({ name: latest.name! });
    });
    await gcpClient.close();
    const token = (vault.backend() as { token: string }).token;
    const vaultMissDirect = await timeEach(options.keys, (i) => fetch(`${vault.bao.url}/v1/secret/data/connections/${coldId(i)}`, { headers: { 'x-vault-token': token } }).then((r) => r.arrayBuffer()));
    const sm = aws.moto.secretsManagerClient({ maxAttempts: 1 });
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const awsMissDirect = await timeEach(options.keys, (i) => sm.send(new GetSecretValueCommand({ SecretId: `airflow/connections/${coldId(i)}` })));
    sm.destroy();

    const gatewayOn = async (backends: Array<Record<string, unknown>>, cache: Record<string, unknown> = {}) => {
      const dir = makeTempDir('bench-gateway');
      writeFileSync(join(dir, 'connections.json'), '{}');
      writeFileSync(join(dir, 'variables.json'), '{}');
      const { config, token: t } = benchGatewayConfig({ dir, backends, cache });
      const g = await startGateway({ config, dir, env: { AIRFLOW_CONN_SOMETHING_ELSE: 'postgresql://x@y/z' } });
      started.push(g);
      return { g, auth: { authorization: `Bearer ${t}` } };
    };
    const five = [
      { type: 'environment', name: 'env' },
      { type: 'local_filesystem', name: 'files', connections_file_path: 'connections.json', variables_file_path: 'variables.json' },
      vault.backend(),
      aws.backend(),
      gcp.backend(),
    ];
    const coldPaths = Array.from({ length: options.keys }, (_, i) => `/v1/connections/${coldId(i)}`);
    const cold = (g: ServerProcess, auth: Record<string, string>) =>
      measureLoad(g, { url: `${g.url}${coldPaths[0]}`, paths: coldPaths, amount: options.keys, connections: 1, headers: auth });

    const chain = await gatewayOn(five);
    const chainCold = await cold(chain.g, chain.auth);
    const alone = await gatewayOn([gcp.backend()]);
    const aloneCold = await cold(alone.g, alone.auth);

    // A key that exists nowhere: every backend answers "not found".
    const missingPath = '/v1/connections/exists_nowhere';
    // GCP: a missing key costs one GetSecretVersion (counted as a version check), and no AccessSecretVersion.
    const totalCalls = async () => vault.calls().reads + aws.calls().reads + ((c) => c.reads + c.versionChecks)(await gcp.calls());
    const missingLoad = async (g: ServerProcess, auth: Record<string, string>, connections: number) => {
      const before = await totalCalls();
      const m = await measureLoad(g, { url: `${g.url}${missingPath}`, connections, durationSeconds: options.missingSeconds, headers: auth, expectStatus: 404 });
      return { ...m, backendCallsPerRequest: ((await totalCalls()) - before) / Math.max(1, m.requests) };
    };
    const negativeOn = await missingLoad(chain.g, chain.auth, 10);
    const off = await gatewayOn(five, { negative_ttl_seconds: 0 });
    const negativeOff = await missingLoad(off.g, off.auth, 10);
    const negativeOffSequential = await measureLoad(off.g, { url: `${off.g.url}${missingPath}`, connections: 1, durationSeconds: options.missingSeconds, headers: off.auth, expectStatus: 404 });
    return { keys: options.keys, lastBackendDirect, vaultMissDirect, awsMissDirect, chainCold, aloneCold, missing: { negativeOn, negativeOff, negativeOffSequential } };
  } finally {
    await Promise.all(started.map((g) => g.stop()));
    await Promise.all([vault.dispose(), aws.dispose(), gcp.dispose()]);
  }
}
