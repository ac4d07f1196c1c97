// Memory with 10k and 100k cached entries, and time from process start to /readyz OK
// (issue 7, §5). RSS is the kernel's VmRSS of the gateway process, started as the image
// starts it (the built package). The entries live in an Airflow metadata database on a real
// PostgreSQL (the airflow_metastore backend), so the process holds no copy of them but the
// cache's: what the RSS grows by is what the cache costs.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, probeFetch, sleep } from '../../test/helpers/servers/common.ts';
import { startPostgres, type PostgresServer } from '../../test/helpers/servers/postgres.ts';
import { benchGatewayConfig, type BenchGatewayConfig } from '../lib/gateway-config.ts';
import { REPO_DIR, cpuSecondsOf, rssBytesOf, spawnGateway, startBenchServer, startGateway, type GatewayEntry } from '../lib/processes.ts';
import { connectionToApiJson } from '../../src/airflow/connection.ts';

export interface MemoryResult {
  entries: number;
  entry: GatewayEntry;
  /** After /readyz, nothing cached. */
  rssReadyBytes: number;
  /** After every entry was asked for once (all in the cache). */
  rssFilledBytes: number;
  /** Entries the gateway reports in its cache (secrets_gateway_cache_entries). */
  cachedEntries: number;
  /** V8 heap in use and reserved after filling, from the gateway's own /metrics (no GC forced: garbage included). */
  heapUsedBytes: number;
  heapTotalBytes: number;
  fillSeconds: number;
}

const BATCH = 100;

/** A bare Node process holding only the answers (bench/memory-floor-server.mjs), filled the same way. */
export interface MemoryFloorResult {
  entries: number;
  rssReadyBytes: number;
  rssFilledBytes: number;
}

// Airflow's connection and variable tables, the columns the metastore backend reads.
const SCHEMA = `
CREATE TABLE connection (id serial PRIMARY KEY, conn_id varchar(250) UNIQUE NOT NULL, conn_type varchar(500) NOT NULL, description text,
  host varchar(500), schema varchar(500), login text, password text, port integer, extra text,
  is_encrypted boolean DEFAULT false, is_extra_encrypted boolean DEFAULT false);
CREATE TABLE variable (id serial PRIMARY KEY, key varchar(250) UNIQUE, val text, description text, is_encrypted boolean DEFAULT false);`;

export async function measureMemory(counts: number[], entry: GatewayEntry): Promise<MemoryResult[]> {
  const pg = await startMetastore(Math.max(...counts));
  const results: MemoryResult[] = [];
  try {
    for (const entries of counts) results.push(await fillAndMeasure(entries, entry, pg.url));
  } finally {
    await pg.dispose();
  }
  return results;
}

const EXTRA = '{"sslmode": "require", "application_name": "airflow"}';

/** The answer the gateway sends for bench_conn_<i> (the row startMetastore writes). */
export function benchConnectionText(i: number): string {
  return connectionToApiJson({
    conn_id: `bench_conn_${i}`,
    conn_type: 'postgres',
    description: null,
    host: `db-${i}.data.internal`,
    login: 'airflow_reader',
    password: `not-a-real-password-${i}`,
    schema: 'warehouse',
    port: 5432,
    extra: EXTRA,
  });
}

/** A real PostgreSQL holding an Airflow metadata database with `entries` connections (bench_conn_0 …). */
export async function startMetastore(entries: number): Promise<PostgresServer> {
  const pg = await startPostgres({ database: 'airflow' });
  try {
    await pg.psql(SCHEMA);
    await pg.psql(`INSERT INTO connection (conn_id, conn_type, host, schema, login, password, port, extra)
      SELECT 'bench_conn_' || i, 'postgres', 'db-' || i || '.data.internal', 'warehouse', 'airflow_reader', 'not-a-real-password-' || i, 5432,
             '${EXTRA}' FROM generate_series(0, ${entries - 1}) AS i`);
  } catch (e) {
    await pg.dispose();
    throw e;
  }
  return pg;
}

/** The gateway's config for the memory measure: the metastore backend, a cache that holds every entry. */
export function metastoreGatewayConfig(dir: string, entries: number): BenchGatewayConfig {
  return benchGatewayConfig({
    dir,
    log: 'warn',
    backends: [{ type: 'airflow_metastore', pool_size: 5 }],
    cache: { max_entries: Math.max(10_000, entries * 2), max_bytes: 4 * 1024 ** 3 },
  });
}

/** Asks for bench_conn_<from> … bench_conn_<to - 1> with POST /v1/lookup, four batches of 100 in flight; checks every answer. */
/** Calls `send` for each batch of indexes in [from, to): BATCH at a time, four batches in flight. */
async function inBatches(from: number, to: number, send: (indexes: number[]) => Promise<void>): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const first = next;
      next += BATCH;
      await send(Array.from({ length: Math.min(BATCH, to - first) }, (_, i) => first + i));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** Asks for bench_conn_<from> … bench_conn_<to - 1> with POST /v1/lookup, four batches of 100 in flight; checks every answer. */
export async function fillCache(gatewayUrl: string, token: string, from: number, to: number): Promise<void> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await inBatches(from, to, async (indexes) => {
    const res = await fetch(`${gatewayUrl}/v1/lookup`, { method: 'POST', headers, body: JSON.stringify({ connections: indexes.map((i) => `bench_conn_${i}`) }) });
    const body = (await res.json()) as { connections?: Array<{ status: string; connection?: { host?: string } }> };
    const wrong = body.connections?.some((c, k) => c.status !== 'found' || c.connection?.host !== `db-${indexes[k]}.data.internal`);
    if (res.status !== 200 || wrong !== false) throw new Error(`lookup answered ${res.status}, not every connection found as stored`);
  });
}

async function fillAndMeasure(entries: number, entry: GatewayEntry, databaseUrl: string): Promise<MemoryResult> {
  const dir = makeTempDir('bench-gateway');
  const { config, token } = metastoreGatewayConfig(dir, entries);
  const gateway = await startGateway({ config, dir, entry, env: { AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: databaseUrl } });
  try {
    await sleep(500);
    const rssReadyBytes = gateway.rssBytes();
    const t0 = performance.now();
    await fillCache(gateway.url, token, 0, entries);
    const fillSeconds = (performance.now() - t0) / 1000;
    await sleep(1000);
    const rssFilledBytes = gateway.rssBytes();
    // The floor (measureMemoryFloor) holds these very bytes.
    const one = await fetch(`${gateway.url}/v1/connections/bench_conn_0`, { headers: { authorization: `Bearer ${token}` } });
    if ((await one.text()) !== benchConnectionText(0)) throw new Error('the gateway answered bench_conn_0 with another text than benchConnectionText(0)');
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const cachedEntries = Number(/^secrets_gateway_cache_entries\{kind="connection"\} (\d+)/m.exec(metrics)?.[1] ?? NaN);
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    return { entries, entry, rssReadyBytes, rssFilledBytes, cachedEntries, fillSeconds, heapUsedBytes: gauge('nodejs_heap_size_used_bytes'), heapTotalBytes: gauge('nodejs_heap_size_total_bytes') };
  } finally {
    await gateway.stop();
  }
}

/** RSS at ready of a bare Fastify app (bench/fastify-floor-server.mjs), the framework's own floor; median of `starts` fresh processes. */
export async function measureFastifyFloor(starts: number): Promise<number[]> {
  const rss: number[] = [];
  for (let i = 0; i < starts; i++) {
    const server = await startBenchServer('fastify-floor', 'fastify-floor-server.mjs', '/');
    try {
      await sleep(500);
      rss.push(server.rssBytes());
    } finally {
      await server.stop();
    }
  }
  return rss;
}

/** The memory floor: for each count a fresh bench/memory-floor-server.mjs, RSS at ready and after
 * holding `entries` answers, posted as the gateway's fill asks for them (batches of 100, four in flight). */
export async function measureMemoryFloor(counts: number[]): Promise<MemoryFloorResult[]> {
  const results: MemoryFloorResult[] = [];
  for (const entries of counts) {
    const floor = await startBenchServer('memory-floor', 'memory-floor-server.mjs', '/held');
    try {
      await sleep(500);
      const rssReadyBytes = floor.rssBytes();
      await inBatches(0, entries, async (indexes) => {
        const res = await fetch(`${floor.url}/hold`, { method: 'POST', body: JSON.stringify(indexes.map((i) => [`bench_conn_${i}`, benchConnectionText(i)])) });
        if (res.status !== 200) throw new Error(`the memory floor answered ${res.status}`);
      });
      await sleep(1000);
      const rssFilledBytes = floor.rssBytes();
      const held = Number(await (await fetch(`${floor.url}/held`)).text());
      if (held !== entries) throw new Error(`the memory floor holds ${held} answers, not ${entries}`);
      results.push({ entries, rssReadyBytes, rssFilledBytes });
    } finally {
      await floor.stop();
    }
  }
  return results;
}

export interface StartResult {
  entry: GatewayEntry;
  /** 'empty': every start with an empty compile cache of its own, as a new pod's first start. */
  compileCache: 'warm' | 'empty';
  /** ms from spawn() to the first 200 from /readyz, one per repetition. */
  runsMs: number[];
  medianMs: number;
}

/** Spawns the gateway with the local backends (the example files and the environment) and polls /readyz every 2 ms. */
export async function measureStart(entry: GatewayEntry, repetitions: number, compileCache: StartResult['compileCache'] = 'warm'): Promise<StartResult> {
  const runsMs: number[] = [];
  for (let r = 0; r < repetitions; r++) runsMs.push((await timeToReady(entry, { compileCache })).wallMs);
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { entry, compileCache, runsMs, medianMs: sorted[Math.floor(sorted.length / 2)]! };
}

/** One start with the local backends (the example files and the environment): ms from spawn() to the first
 * 200 of /readyz (polled every 2 ms), and the CPU the process had used by then. */
export async function timeToReady(entry: GatewayEntry, options: { compileCache?: StartResult['compileCache']; tree?: string } = {}): Promise<{ wallMs: number; cpuMs: number; rssMb: number }> {
  const dir = makeTempDir('bench-start');
  copyFileSync(join(REPO_DIR, 'secrets/connections.yaml'), join(dir, 'connections.yaml'));
  copyFileSync(join(REPO_DIR, 'secrets/variables.yaml'), join(dir, 'variables.yaml'));
  const { config } = benchGatewayConfig({
    dir,
    backends: [{ type: 'local_filesystem', connections_file_path: 'connections.yaml', variables_file_path: 'variables.yaml' }, { type: 'environment' }],
  });
  // Node's compile cache (src/main.ts) otherwise lives in the temp directory, warm after the first start.
  const env = options.compileCache === 'empty' ? { NODE_COMPILE_CACHE: makeTempDir('bench-compile-cache') } : {};
  const { port, proc, spawnedAt } = await spawnGateway({ config, dir, entry, env, ...(options.tree ? { tree: options.tree } : {}) });
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && proc.isRunning()) {
      try {
        const res = await probeFetch(`http://127.0.0.1:${port}/readyz`, {}, 1000);
        await res.arrayBuffer();
        if (res.status === 200) return { wallMs: performance.now() - spawnedAt, cpuMs: cpuSecondsOf(proc.child.pid!) * 1000, rssMb: rssBytesOf(proc.child.pid!) / 1e6 };
      } catch {
        await sleep(2);
      }
    }
    throw new Error(`the gateway (${entry}${options.tree ? `, ${options.tree}` : ''}) was not ready within 30 s; log in ${proc.logFile}`);
  } finally {
    await proc.stop(5000, 'SIGINT'); // no drain period (src/http/drain.ts)
  }
}
