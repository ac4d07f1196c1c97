// Memory with 10k and 100k cached entries, and time from process start to /readyz OK
// (issue 7, §5). RSS is the kernel's VmRSS of the gateway process. The entries come from a
// local_filesystem file, which the backend also keeps parsed in memory: the RSS before the
// cache is filled is reported too, so the cache's own share is the difference.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, probeFetch, sleep } from '../../test/helpers/servers/common.ts';
import { benchGatewayConfig } from '../lib/gateway-config.ts';
import { REPO_DIR, spawnGateway, startGateway, type GatewayEntry } from '../lib/processes.ts';
import { localFiles } from './throughput.ts';

export interface MemoryResult {
  entries: number;
  /** After /readyz, the file loaded, nothing cached. */
  rssReadyBytes: number;
  /** After every entry was asked for once (all in the cache). */
  rssFilledBytes: number;
  /** Entries the gateway reports in its cache (secrets_gateway_cache_entries). */
  cachedEntries: number;
  fillSeconds: number;
}

const BATCH = 100;

export async function measureMemory(entries: number): Promise<MemoryResult> {
  const dir = makeTempDir('bench-gateway');
  const files = localFiles(entries);
  writeFileSync(join(dir, 'connections.json'), files.connections);
  writeFileSync(join(dir, 'variables.json'), '{}');
  const { config, token } = benchGatewayConfig({
    dir,
    log: 'warn',
    backends: [{ type: 'local_filesystem', connections_file_path: 'connections.json', variables_file_path: 'variables.json' }],
    cache: { max_entries: Math.max(10_000, entries * 2), max_bytes: 4 * 1024 ** 3 },
  });
  const gateway = await startGateway({ config, dir });
  try {
    await sleep(500);
    const rssReadyBytes = gateway.rssBytes();
    const t0 = performance.now();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // Four batch requests of 100 ids in flight at a time.
    let next = 0;
    const worker = async () => {
      while (next < entries) {
        const from = next;
        next += BATCH;
        const ids = Array.from({ length: Math.min(BATCH, entries - from) }, (_, i) => `bench_conn_${from + i}`);
        const res = await fetch(`${gateway.url}/v1/lookup`, { method: 'POST', headers, body: JSON.stringify({ connections: ids }) });
        if (res.status !== 200) throw new Error(`lookup answered ${res.status}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const fillSeconds = (performance.now() - t0) / 1000;
    await sleep(1000);
    const rssFilledBytes = gateway.rssBytes();
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const cachedEntries = Number(/^secrets_gateway_cache_entries\{kind="connection"\} (\d+)/m.exec(metrics)?.[1] ?? NaN);
    return { entries, rssReadyBytes, rssFilledBytes, cachedEntries, fillSeconds };
  } finally {
    await gateway.stop();
  }
}

export interface StartResult {
  entry: GatewayEntry;
  /** ms from spawn() to the first 200 from /readyz, one per repetition. */
  runsMs: number[];
  medianMs: number;
}

/** Spawns the gateway with the local backends (the example files and the environment) and polls /readyz every 2 ms. */
export async function measureStart(entry: GatewayEntry, repetitions: number): Promise<StartResult> {
  const runsMs: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    const dir = makeTempDir('bench-start');
    copyFileSync(join(REPO_DIR, 'secrets/connections.yaml'), join(dir, 'connections.yaml'));
    copyFileSync(join(REPO_DIR, 'secrets/variables.yaml'), join(dir, 'variables.yaml'));
    const { config } = benchGatewayConfig({
      dir,
      backends: [{ type: 'local_filesystem', connections_file_path: 'connections.yaml', variables_file_path: 'variables.yaml' }, { type: 'environment' }],
    });
    const { port, proc, spawnedAt } = await spawnGateway({ config, dir, entry });
    let readyAt: number | undefined;
    const deadline = Date.now() + 30_000;
    while (readyAt === undefined && Date.now() < deadline && proc.isRunning()) {
      try {
        const res = await probeFetch(`http://127.0.0.1:${port}/readyz`, {}, 1000);
        await res.arrayBuffer();
        if (res.status === 200) readyAt = performance.now();
      } catch {
        await sleep(2);
      }
    }
    await proc.stop(5000);
    if (readyAt === undefined) throw new Error(`the gateway (${entry}) was not ready within 30 s; log in ${proc.logFile}`);
    runsMs.push(readyAt - spawnedAt);
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { entry, runsMs, medianMs: sorted[Math.floor(sorted.length / 2)]! };
}
