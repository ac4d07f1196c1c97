// The load generator: autocannon, run programmatically in its own process, so it never
// shares an event loop (or a CPU's worth of JavaScript) with the server under test.
// Input: one JSON LoadSpec as argv[2]. Output: one JSON LoadResult line on stdout.
//
// Latency percentiles are computed here from every response time, not taken from
// autocannon's histogram: that one records whole milliseconds, too coarse to compare
// a sub-millisecond p99 with another.
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './lib/load-types.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;

function options(durationSeconds: number | undefined): autocannon.Options {
  return {
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: durationSeconds ?? 1 }),
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    // Several paths (e.g. distinct keys) are sent in turn, per connection.
    ...(spec.paths && spec.paths.length > 0 ? { requests: spec.paths.map((path) => ({ path })) } : {}),
    timeout: spec.timeoutSeconds ?? 10,
  };
}

function run(durationSeconds: number | undefined, record: boolean): Promise<{ result: autocannon.Result; latencies: number[]; statuses: Record<string, number> }> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(options(durationSeconds), (err, result) => (err ? reject(err) : resolve({ result, latencies, statuses })));
    if (record) {
      instance.on('response', (_client, statusCode, _bytes, ms) => {
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
        if (spec.expectStatus !== undefined ? statusCode === spec.expectStatus : statusCode >= 200 && statusCode < 300) latencies.push(ms);
      });
    }
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const warmup = spec.warmupSeconds && spec.amount === undefined ? await run(spec.warmupSeconds, false) : undefined;
const started = performance.now();
const cpuBefore = process.cpuUsage();
const { result, latencies, statuses } = await run(spec.durationSeconds, true);
const cpu = process.cpuUsage(cpuBefore);
const elapsedSeconds = (performance.now() - started) / 1000;
const sorted = Float64Array.from(latencies).sort();
const ok = sorted.length;
const out: LoadResult = {
  connections: spec.connections,
  seconds: Math.round(elapsedSeconds * 1000) / 1000,
  requests: result.requests.total,
  warmupRequests: warmup?.result.requests.total ?? 0,
  ok,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  statuses,
  // Expected answers per second of the measured run (autocannon's own average counts every answer).
  rps: ok / (spec.amount !== undefined ? elapsedSeconds : result.duration),
  // The load process's own CPU use, as a share of one core: near 1.0 means the load, not the server, set the pace.
  loaderCpu: (cpu.user + cpu.system) / 1e6 / elapsedSeconds,
  latencyMs: {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN,
  },
};
process.stdout.write(`${JSON.stringify(out)}\n`);
