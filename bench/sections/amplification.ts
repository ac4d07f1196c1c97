// Backend amplification under an Airflow-like load (issue 7, §4). A real gateway (built
// in this process so that its cache runs on a simulated clock: several TTLs pass in
// seconds) over real OpenBao and moto, driven over HTTP by the trace of bench/lib/workload.ts,
// with one rotation in the middle. The calls each backend received are counted from the
// backend's own records, and set against what the same trace costs Airflow (bench/lib/airflow-model.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGateway } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { makeTempDir, sleep } from '../../test/helpers/servers/common.ts';
import { stringify } from 'yaml';
import { airflowSecretCacheInWorkers, airflowWithoutCache, type ModelCost, type TraceLookup } from '../lib/airflow-model.ts';
import { benchGatewayConfig } from '../lib/gateway-config.ts';
import { startAwsStore, startVaultStore, type BackendCalls } from '../lib/stores.ts';
import { airflowLikeWorkload, connectionId, variableKey, type WorkloadParams } from '../lib/workload.ts';

export interface AmplificationResult {
  params: WorkloadParams;
  ttlSeconds: number;
  negativeTtlSeconds: number;
  airflowCacheTtlSeconds: number;
  lookups: number;
  taskStarts: number;
  backends: string[];
  gateway: { calls: BackendCalls[]; staleServed: number; errors: number };
  airflowNoCache: ModelCost;
  airflowSecretCache: ModelCost;
  airflowSecretCacheSameTtl: ModelCost;
  /** Per found key: value reads and version checks per TTL window; per missing key: reads per negative-TTL window. */
  steadyState: { maxReadsPerFoundKeyPerTtl: number; maxVersionChecksPerFoundKeyPerTtl: number; maxReadsPerMissingKeyPerNegativeTtl: number; rotatedKeyReads: number };
  wallSeconds: number;
}

const password = (generation: number) => `pw-gen${generation}`;
const variableValue = (i: number, generation: number) => `value-${i}-gen${generation}`;
const connectionUri = (i: number, generation: number) => `postgresql://airflow:${password(generation)}@db-${i}.internal:5432/airflow`;

export async function measureAmplification(params: WorkloadParams, cache: { ttlSeconds: number; negativeTtlSeconds: number }): Promise<AmplificationResult> {
  const wall0 = performance.now();
  const workload = airflowLikeWorkload(params);
  const [vault, aws] = await Promise.all([startVaultStore(), startAwsStore()]);
  try {
    // The stores: connections [0, connectionsInFirst) in OpenBao, the rest and every variable in moto.
    for (let i = 0; i < params.connectionPool; i++) {
      const store = workload.placement('connection', connectionId(i)) === 0 ? vault.fixture : aws.fixture;
      await store.put('connection', connectionId(i), { uri: connectionUri(i, 0) });
    }
    for (let i = 0; i < params.variablePool; i++) await aws.fixture.put('variable', variableKey(i), { variable: variableValue(i, 0) });

    const dir = makeTempDir('bench-amplification');
    const { config: raw, token } = benchGatewayConfig({
      dir,
      log: 'warn',
      backends: [vault.backend(), aws.backend()],
      cache: { ttl_seconds: cache.ttlSeconds, negative_ttl_seconds: cache.negativeTtlSeconds },
    });
    writeFileSync(join(dir, 'config.yaml'), stringify(raw));
    const { config } = loadConfig({ configPath: join(dir, 'config.yaml'), env: {} });
    let clockMs = 1_000_000;
    const logger = createLogger({ level: 'warn' });
    const gateway = await buildGateway(config, { logger, env: {}, now: () => clockMs });
    const base = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: `Bearer ${token}` };

    const generations = new Map<string, number>();
    const generationOf = (kind: string, id: string) => generations.get(`${kind}:${id}`) ?? 0;
    let staleServed = 0;
    let errors = 0;
    const ask = async (l: TraceLookup): Promise<void> => {
      const url = `${base}/v1/${l.kind === 'connection' ? 'connections' : 'variables'}/${l.id}`;
      const res = await fetch(url, { headers });
      if (res.status === 404) return void (await res.body?.cancel());
      if (res.status !== 200) return void (errors++, await res.body?.cancel());
      const body = (await res.json()) as { password?: string; value?: string };
      const served = l.kind === 'connection' ? body.password : body.value;
      const i = Number(l.id.slice(-3));
      const current = l.kind === 'connection' ? password(generationOf(l.kind, l.id)) : variableValue(i, generationOf(l.kind, l.id));
      if (served !== current) staleServed++;
    };

    const byInstant = new Map<number, TraceLookup[]>();
    for (const l of workload.trace) byInstant.set(l.t, [...(byInstant.get(l.t) ?? []), l]);
    const pendingRotations = [...workload.rotations];
    for (const t of workload.instants) {
      while (pendingRotations.length > 0 && pendingRotations[0]!.t <= t) {
        const r = pendingRotations.shift()!;
        const i = Number(r.id.slice(-3));
        const next = generationOf(r.kind, r.id) + 1;
        if (r.kind === 'connection' && workload.placement('connection', r.id) === 0) await vault.fixture.put('connection', r.id, { uri: connectionUri(i, next) });
        else await aws.rotate(`airflow/${r.kind === 'connection' ? 'connections' : 'variables'}/${r.id}`, r.kind === 'connection' ? connectionUri(i, next) : variableValue(i, next));
        generations.set(`${r.kind}:${r.id}`, next);
      }
      clockMs = 1_000_000 + t * 1000;
      // Workers that start a task at this instant do so at once; a task asks for its secrets one by one.
      const tasks = new Map<number, TraceLookup[]>();
      for (const l of byInstant.get(t)!) tasks.set(l.worker, [...(tasks.get(l.worker) ?? []), l]);
      await Promise.all([...tasks.values()].map(async (lookups) => { for (const l of lookups) await ask(l); }));
      // Let background revalidations (stale-while-revalidate) finish before the clock moves on.
      await sleep(25);
    }
    await gateway.app.close();

    const calls = [vault.calls(), aws.calls()];
    const chainLength = 2;
    const windows = Math.ceil(params.durationSeconds / cache.ttlSeconds);
    const negativeWindows = Math.ceil(params.durationSeconds / Math.max(cache.negativeTtlSeconds, 1));
    const rotated = new Set(workload.rotations.map((r) => r.id));
    let maxReads = 0;
    let maxChecks = 0;
    let maxMissing = 0;
    let rotatedKeyReads = 0;
    // A key's reads at its holder (found keys) or at the last backend (missing keys).
    for (const c of calls) {
      for (const [id, n] of c.readsById) {
        const bare = id.replace(/^airflow\/(connections|variables)\//, '');
        if (bare.startsWith('bench_flag_')) maxMissing = Math.max(maxMissing, n / negativeWindows);
        else if (rotated.has(bare)) rotatedKeyReads = Math.max(rotatedKeyReads, n);
        else maxReads = Math.max(maxReads, n / windows);
      }
      for (const n of c.versionChecksById.values()) maxChecks = Math.max(maxChecks, n / windows);
    }
    // A miss in OpenBao for a key moto holds counts at OpenBao too: those are the chain's walk, reported in the totals.
    return {
      params,
      ttlSeconds: cache.ttlSeconds,
      negativeTtlSeconds: cache.negativeTtlSeconds,
      airflowCacheTtlSeconds: 900,
      lookups: workload.trace.length,
      taskStarts: new Set(workload.trace.map((l) => `${l.worker}:${l.t}`)).size,
      backends: ['OpenBao (vault)', 'moto (aws_secrets_manager)'],
      gateway: { calls, staleServed, errors },
      airflowNoCache: airflowWithoutCache(workload.trace, chainLength, workload.placement),
      airflowSecretCache: airflowSecretCacheInWorkers(workload.trace, chainLength, workload.placement, { ttlSeconds: 900, rotations: workload.rotations }),
      airflowSecretCacheSameTtl: airflowSecretCacheInWorkers(workload.trace, chainLength, workload.placement, { ttlSeconds: cache.ttlSeconds, rotations: workload.rotations }),
      steadyState: { maxReadsPerFoundKeyPerTtl: maxReads, maxVersionChecksPerFoundKeyPerTtl: maxChecks, maxReadsPerMissingKeyPerNegativeTtl: maxMissing, rotatedKeyReads },
      wallSeconds: (performance.now() - wall0) / 1000,
    };
  } finally {
    await Promise.all([vault.dispose(), aws.dispose()]);
  }
}
