// The load generator: autocannon, run programmatically in its own process, so it never
// shares an event loop (or a CPU's worth of JavaScript) with the server under test.
// Input: one JSON LoadSpec as argv[2]. Output: one JSON LoadResult line on stdout.
//
// Latency percentiles are computed here from every response time, not taken from
// autocannon's histogram: that one records whole milliseconds, too coarse to compare
// a sub-millisecond p99 with another.
//
// Open loop (`overallRate`): requests are sent on a fixed schedule, whatever the answers do,
// by a paced sender of its own (node:http, keep-alive, `connections` sockets at most), not by
// autocannon. autocannon's `overallRate` is a per-connection budget per second: each connection
// sends back to back until it has made its share of the second, then waits for the next
// second, so 5,000 req/s over 50 connections is a burst at saturation every second, and its
// latencies are those of a closed loop. Here the sender wakes every millisecond and sends the
// requests that fell due since the last wake (5 at 5,000 req/s); a latency runs from the send.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
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
    ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
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

type RunOutcome = { result: Pick<autocannon.Result, 'non2xx' | 'errors' | 'timeouts' | 'duration'> & { requests: { total: number } }; latencies: number[]; statuses: Record<string, number> };

/** `overallRate` requests per second for `durationSeconds`, on schedule (see the header). */
function paced(durationSeconds: number, record: boolean): Promise<RunOutcome> {
  const rate = spec.overallRate!;
  const url = new URL(spec.url);
  const paths = spec.paths && spec.paths.length > 0 ? spec.paths : [`${url.pathname}${url.search}`];
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const total = Math.max(1, Math.round(rate * durationSeconds));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let done = 0;
  let non2xx = 0;
  let errors = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const finish = () => {
      if (++done < total) return;
      agent.destroy();
      resolve({ result: { requests: { total }, non2xx, errors, timeouts: 0, duration: (performance.now() - t0) / 1000 }, latencies, statuses });
    };
    const send = (path: string) => {
      const at = performance.now();
      const req = request({ host: url.hostname, port: url.port, path, method: spec.method ?? 'GET', headers: spec.headers ?? {}, agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) non2xx++;
          if (record) {
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (spec.expectStatus !== undefined ? status === spec.expectStatus : status >= 200 && status < 300) latencies.push(performance.now() - at);
          }
          finish();
        });
      });
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end(spec.body);
    };
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (sent < due) send(paths[sent++ % paths.length]!);
      if (sent >= total) clearInterval(timer);
    }, 1);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** CPU seconds (user + system) the server has used so far (/proc/<pid>/stat, USER_HZ 100). */
function serverCpuSeconds(): number {
  if (spec.serverPid === undefined) return NaN;
  const stat = readFileSync(`/proc/${spec.serverPid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const load = (seconds: number | undefined, record: boolean): Promise<RunOutcome> => (spec.overallRate !== undefined ? paced(seconds ?? 1, record) : run(seconds, record));
const warmup = spec.warmupSeconds && spec.amount === undefined ? await load(spec.warmupSeconds, false) : undefined;
const started = performance.now();
const cpuBefore = process.cpuUsage();
const serverBefore = serverCpuSeconds();
const { result, latencies, statuses } = await load(spec.durationSeconds, true);
const serverAfter = serverCpuSeconds();
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
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN,
  },
  ...(spec.serverPid !== undefined ? { serverCpuSecondsMeasured: serverAfter - serverBefore } : {}),
};
process.stdout.write(`${JSON.stringify(out)}\n`);
