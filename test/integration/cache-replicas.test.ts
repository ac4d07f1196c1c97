// Three gateway processes and a real Redis on loopback: an invalidation sent to
// one is applied by all three within 200 ms; with Redis killed they keep serving
// (degraded in /readyz and in a metric); with Redis back, invalidations flow
// again. Also: nothing but ids goes over Redis, metrics on a port of their own,
// and the Grafana dashboard queries only metrics a real /metrics declares.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { declares, parseExposition, sum } from '../helpers/prometheus.ts';
import { READ_ALL, writeTestAccessControl } from '../helpers/gateway.ts';
import { REPO_ROOT, freePort, makeTempDir, spawnManaged, tailFile, waitReady, type ManagedProcess } from '../helpers/servers/common.ts';
import { startRedis, type RedisServer } from '../helpers/servers/redis.ts';

const VALUE = 'replicated-secret-value-5e1d';
const CHANNEL = 'secrets-gateway:test-invalidations';

interface Replica {
  base: string;
  metricsBase: string;
  proc: ManagedProcess;
  /** Authorization header with a token this replica accepts. */
  bearer(scopes?: string[]): { authorization: string };
}

async function startReplica(redisUrl: string, index: number, separateMetricsPort: boolean): Promise<Replica> {
  const dir = makeTempDir(`replica${index}`);
  const port = await freePort();
  const metricsPort = separateMetricsPort ? await freePort() : null;
  const configPath = join(dir, 'config.yaml');
  const access = writeTestAccessControl(dir, `replica${index}-${port}`);
  writeFileSync(
    configPath,
    stringify({
      auth: access.auth,
      audit: access.audit,
      server: { host: '127.0.0.1', port, drain_seconds: 0 },
      log: { level: 'warn' },
      cache: { redis_url: redisUrl, redis_channel: CHANNEL },
      metrics: { port: metricsPort },
      backends: [{ type: 'environment' }],
    }),
  );
  const proc = spawnManaged(process.execPath, [join(REPO_ROOT, 'src/main.ts'), 'serve', '--config', configPath], {
    cwd: dir,
    logFile: join(dir, 'gateway.log'),
    env: { AIRFLOW_VAR_SHARED: VALUE, AIRFLOW_VAR_OTHER: 'other-value' },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitReady(`gateway ${index}`, proc, async () => (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(500) })).ok, 20_000, 50);
  return {
    base,
    metricsBase: metricsPort ? `http://127.0.0.1:${metricsPort}` : base,
    proc,
    bearer: (scopes = [...READ_ALL, 'cache:invalidate:*']) => ({ authorization: `Bearer ${access.token(scopes)}` }),
  };
}

const xcache = async (replica: Replica, key = 'shared') => {
  const res = await fetch(`${replica.base}/v1/variables/${key}`, { headers: replica.bearer() });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  return res.headers.get('x-cache');
};

const invalidate = async (replica: Replica, body: unknown) => {
  const res = await fetch(`${replica.base}/v1/cache/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json', ...replica.bearer() }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  return (await res.json()) as { invalidated: number; fanout: string };
};

const readiness = async (replica: Replica) => {
  const res = await fetch(`${replica.base}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; invalidation?: { state: string } } };
};

const scrape = async (replica: Replica) => parseExposition(await (await fetch(`${replica.metricsBase}/metrics`)).text());

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(25);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** Warms the key everywhere (each replica: a hit), invalidates it through `via`, and returns how
 * long each replica took to answer `miss`, measured from the moment the POST was sent. */
async function invalidationDelays(replicas: Replica[], via: Replica): Promise<number[]> {
  for (const r of replicas) {
    await xcache(r);
    assert.equal(await xcache(r), 'hit');
  }
  const t0 = performance.now();
  const result = await invalidate(via, { kind: 'variable', id: 'shared' });
  assert.deepEqual(result, { invalidated: 1, fanout: 'published' });
  return await Promise.all(
    replicas.map(async (r) => {
      while (performance.now() - t0 < 2000) {
        if ((await xcache(r)) === 'miss') return performance.now() - t0;
        await sleep(2);
      }
      return Infinity;
    }),
  );
}

describe('invalidation across three gateway processes over a real Redis', () => {
  let redis: RedisServer;
  let replicas: Replica[];
  let listener: Redis;
  const published: string[] = [];

  before(async () => {
    redis = await startRedis();
    listener = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => 100 });
    listener.on('error', () => undefined);
    await listener.connect();
    await listener.subscribe(CHANNEL);
    listener.on('message', (_channel: string, message: string) => published.push(message));
    replicas = await Promise.all([0, 1, 2].map((i) => startReplica(redis.url, i, i === 2)));
    for (const r of replicas) await eventually('subscribed', async () => ((await readiness(r)).body.invalidation?.state === 'ready' ? true : undefined));
  });

  after(async () => {
    listener?.disconnect();
    for (const r of replicas ?? []) await r.proc.stop();
    await redis?.dispose();
    for (const r of replicas ?? []) assert.ok(!tailFile(r.proc.logFile, 1_000_000).includes(VALUE), 'no secret value in a gateway log');
  });

  it('applies an invalidation sent to one replica on all three within 200 ms', async () => {
    const delays = await invalidationDelays(replicas, replicas[0]!);
    console.log(`invalidation applied after (ms, from the POST): ${delays.map((d) => d.toFixed(1)).join(', ')}`);
    for (const d of delays) assert.ok(d < 200, `applied within 200 ms (took ${d.toFixed(1)} ms)`);
    // Each replica applied it once: the sender from the API, the others from pub/sub (the sender ignored its own message).
    const [m0, m1, m2] = await Promise.all(replicas.map(scrape));
    assert.equal(sum(m0!, 'secrets_gateway_invalidations_total', { source: 'api' }), 1);
    assert.equal(sum(m0!, 'secrets_gateway_invalidations_total', { source: 'pubsub' }), 0);
    for (const m of [m1!, m2!]) assert.equal(sum(m, 'secrets_gateway_invalidations_total', { source: 'pubsub' }), 1);
    // By glob and all, too.
    await invalidate(replicas[1]!, { glob: 'sha*' });
    await invalidate(replicas[1]!, { all: true });
    await eventually('glob and all applied', async () => (sum(await scrape(replicas[0]!), 'secrets_gateway_invalidations_total', { source: 'pubsub' }) === 2 ? true : undefined));
  });

  it('puts ids on Redis, never values', async () => {
    await eventually('messages seen', async () => (published.length >= 3 ? true : undefined));
    for (const message of published) {
      assert.ok(!message.includes(VALUE));
      const parsed = JSON.parse(message) as { v: number; origin: string; scope: Record<string, unknown> };
      assert.equal(parsed.v, 1);
      assert.deepEqual(Object.keys(parsed).sort(), ['origin', 'scope', 'v']);
    }
    assert.deepEqual(JSON.parse(published[0]!).scope, { kind: 'variable', id: 'shared' });
  });

  it('keeps serving with Redis killed, shows degraded, and resumes invalidations when Redis is back', async () => {
    await redis.kill();
    for (const r of replicas) {
      const { status, body } = await eventually('degraded', async () => {
        const ready = await readiness(r);
        return ready.body.invalidation?.state === 'degraded' ? ready : undefined;
      });
      assert.equal(status, 200, 'degraded, still ready: it serves on TTL');
      assert.equal(body.status, 'degraded');
      assert.equal(sum(await scrape(r), 'secrets_gateway_invalidation_pubsub_up'), 0);
      assert.ok(['hit', 'miss'].includes((await xcache(r, 'other')) ?? ''));
      const res = await fetch(`${r.base}/v1/variables/shared`, { headers: r.bearer() });
      assert.deepEqual([res.status, ((await res.json()) as { value: string }).value], [200, VALUE]);
    }
    const local = await invalidate(replicas[0]!, { all: true });
    assert.equal(local.fanout, 'unavailable', 'applied here; the others rely on TTL');

    await redis.restart();
    await listener.subscribe(CHANNEL).catch(() => undefined);
    for (const r of replicas) await eventually('subscribed again', async () => ((await readiness(r)).body.status === 'ready' ? true : undefined));
    for (const r of replicas) assert.equal(sum(await scrape(r), 'secrets_gateway_invalidation_pubsub_up'), 1);
    const delays = await invalidationDelays(replicas, replicas[1]!);
    console.log(`after Redis returned, invalidation applied after (ms): ${delays.map((d) => d.toFixed(1)).join(', ')}`);
    for (const d of delays) assert.ok(d < 200, `applied within 200 ms (took ${d.toFixed(1)} ms)`);
  });

  it('serves metrics on a port of its own when metrics.port is set', async () => {
    const separate = replicas[2]!;
    assert.notEqual(separate.metricsBase, separate.base);
    const onMain = await fetch(`${separate.base}/metrics`);
    assert.equal(onMain.status, 404);
    await onMain.body?.cancel();
    assert.ok((await scrape(separate)).types.has('secrets_gateway_requests_total'));
  });

  it('has a Grafana dashboard whose every query names a metric a real /metrics declares', async () => {
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards/secrets-gateway.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exposition = await scrape(replicas[0]!);
    const queried = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, `${panel.title} has a query`);
      for (const { expr } of panel.targets) for (const [name] of expr.matchAll(/\bsecrets_gateway_[a-z_]+/g)) queried.add(name);
    }
    for (const name of queried) assert.ok(declares(exposition, name), `${name} (queried by the dashboard) is in /metrics`);
    // It charts what the issue asks for.
    for (const needed of ['cache_hits_total', 'served_age_seconds_bucket', 'stale_served_total', 'backend_request_duration_seconds_bucket', 'backend_requests_total', 'auth_failures_total']) {
      assert.ok(queried.has(`secrets_gateway_${needed}`), `the dashboard charts secrets_gateway_${needed}`);
    }
  });
});
