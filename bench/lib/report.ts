// bench/RESULTS.md from one run's figures: the machine, the commands, raw figures, and
// every time as a ratio to the baseline measured in the same run.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { AmplificationResult } from '../sections/amplification.ts';
import type { ColdResult } from '../sections/cold.ts';
import type { HerdResult } from '../sections/herd.ts';
import type { AuditResult } from '../sections/audit.ts';
import type { MemoryFloorResult, MemoryResult, StartResult } from '../sections/memory-start.ts';
import type { LoadShape, Measured } from '../sections/throughput.ts';
import type { SameBodyResult } from '../sections/same-body.ts';
import { BATCH_CONNECTIONS, BATCH_VARIABLES } from '../sections/throughput.ts';
import { imageNodeFlags } from './node-flags.ts';
import { BENCH_DIR, REPO_DIR } from './processes.ts';

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  autocannon: string;
  commit: string;
  loadAverageStart: number[];
  loadAverageEnd?: number[];
}

export interface BenchReport {
  smoke: boolean;
  command: string;
  machine: MachineInfo;
  startedAt: string;
  finishedAt?: string;
  shape: LoadShape;
  baselineStart: Measured[];
  baselineEnd: Measured[];
  /** The primary hit figures: against the same-body bare route, alternated (issue 20). */
  sameBody?: SameBodyResult;
  hit: Measured[];
  hitRssBytes?: number;
  /** The hit gateway's own audit log after the hit loads. */
  hitAudit?: { bytesPerEvent: number; events: number };
  audit?: AuditResult;
  batch?: Measured;
  cold?: ColdResult;
  herd?: HerdResult;
  amplification?: AmplificationResult;
  memory?: MemoryResult[];
  memoryFloor?: MemoryFloorResult[];
  /** RSS at ready of a bare Fastify app, one per fresh process. */
  fastifyFloorReadyBytes?: number[];
  start?: StartResult[];
}

export function machineInfo(): MachineInfo {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR, encoding: 'utf8' }).trim();
    // The reports of an earlier run (bench/RESULTS.*) are the bench's own output, not a change to what it measures.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md', ':!bench/RESULTS.json'], { cwd: REPO_DIR, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    // not a git checkout
  }
  const autocannon = JSON.parse(readFileSync(join(REPO_DIR, 'node_modules/autocannon/package.json'), 'utf8')) as { version: string };
  return {
    cpuModel: model,
    cpus: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    autocannon: autocannon.version,
    commit,
    loadAverageStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : 'n/a');
const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The baseline for a connection count: the mean of the start and end runs. */
function baselineAt(r: BenchReport, connections: number): { rps: number; p50: number; p99: number; cpuUs: number } {
  const runs = [...r.baselineStart, ...r.baselineEnd].filter((m) => m.connections === connections);
  return {
    rps: mean(runs.map((m) => m.rps)),
    p50: mean(runs.map((m) => m.latencyMs.p50)),
    p99: mean(runs.map((m) => m.latencyMs.p99)),
    cpuUs: mean(runs.map((m) => m.serverCpuUsPerRequest)),
  };
}

const loadRow = (label: string, m: Measured) =>
  `| ${label} | ${m.connections} | ${n0(m.rps)} | ${f3(m.latencyMs.p50)} | ${f3(m.latencyMs.p99)} | ${f3(m.latencyMs.max)} | ${n0(m.ok)} | ${m.non2xx + m.errors + m.timeouts} | ${f2(m.serverCpu)} | ${f2(m.loaderCpu)} | ${f2(m.serverCpuUsPerRequest)} |`;
const LOAD_HEADER =
  '| run | connections | req/s | p50 ms | p99 ms | max ms | answers | errors / unexpected | server CPU (cores) | load process CPU (cores) | server CPU µs per request |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
interface Spread {
  median: number;
  min: number;
  max: number;
}
const spreadOf = (xs: number[]): Spread => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const spread = (s: Spread, digits: number) => `${s.min.toFixed(digits)}–${s.max.toFixed(digits)}`;
interface Paired {
  gateway: Spread;
  baseline: Spread;
  ratio: Spread;
}

/** Medians and spreads (min–max) over the same-body rounds; each ratio is taken within its round. */
function sameBodySummary(sb: SameBodyResult): { rounds: number; cpu: Paired; openCpu: Paired; p50: Paired; p99: Paired; p999: Paired } {
  const paired = (g: (r: SameBodyResult['rounds'][number]) => number, b: (r: SameBodyResult['rounds'][number]) => number): Paired => ({
    gateway: spreadOf(sb.rounds.map(g)),
    baseline: spreadOf(sb.rounds.map(b)),
    ratio: spreadOf(sb.rounds.map((r) => g(r) / b(r))),
  });
  return {
    rounds: sb.rounds.length,
    cpu: paired((r) => r.gateway.serverCpuUsPerMeasuredRequest, (r) => r.baseline.serverCpuUsPerMeasuredRequest),
    openCpu: paired((r) => r.gatewayOpen.serverCpuUsPerMeasuredRequest, (r) => r.baselineOpen.serverCpuUsPerMeasuredRequest),
    p50: paired((r) => r.gatewayOpen.latencyMs.p50, (r) => r.baselineOpen.latencyMs.p50),
    p99: paired((r) => r.gatewayOpen.latencyMs.p99, (r) => r.baselineOpen.latencyMs.p99),
    p999: paired((r) => r.gatewayOpen.latencyMs.p999, (r) => r.baselineOpen.latencyMs.p999),
  };
}

/** The lead of RESULTS.md: issue 20's figures, each beside its floor, medians with their spread. */
function renderHeadline(r: BenchReport): string | undefined {
  const rows: string[] = [];
  const sb = r.sameBody;
  if (sb && sb.rounds.length > 0) {
    const s = sameBodySummary(sb);
    const row = (name: string, p: Paired, unit: string, digits: number, target: string) =>
      `| ${name} | **${p.gateway.median.toFixed(digits)} ${unit}** (${spread(p.gateway, digits)}) | ${p.baseline.median.toFixed(digits)} ${unit} (${spread(p.baseline, digits)}) | **${f2(p.ratio.median)} ×** (${spread(p.ratio, 2)}) | ${target} |`;
    rows.push(
      row(`Hit server CPU per request, closed loop, ${sb.connections} connections`, s.cpu, 'µs', 2, '≤ 1.4 ×'),
      row(`Hit server CPU per request, open loop at ${n0(sb.openRate)} req/s`, s.openCpu, 'µs', 2, ''),
      row(`Hit latency p50, open loop at ${n0(sb.openRate)} req/s`, s.p50, 'ms', 3, ''),
      row(`Hit latency p99, open loop at ${n0(sb.openRate)} req/s`, s.p99, 'ms', 3, '≤ 1 ms and ≤ 1.5 ×'),
      row(`Hit latency p99.9, open loop at ${n0(sb.openRate)} req/s`, s.p999, 'ms', 3, ''),
    );
  }
  const floorAt = (entries: number) => r.memoryFloor?.find((m) => m.entries === entries);
  if (r.memory && r.memory.length > 0) {
    const ready = r.memory.map((m) => m.rssReadyBytes);
    const floorReady = (r.memoryFloor ?? []).map((m) => m.rssReadyBytes);
    const readySpread = spreadOf(ready);
    const floorSpread = floorReady.length ? spreadOf(floorReady) : undefined;
    const mbs = (x: Spread) => `${mb(x.median)} (${(x.min / 1024 ** 2).toFixed(1)}–${(x.max / 1024 ** 2).toFixed(1)})`;
    rows.push(`| RSS at ready (${r.memory[0]!.entry === 'dist' ? 'the built package, as the image runs it' : '`npm start`, src'}) | **${mbs(readySpread)}** | ${floorSpread ? `bare Node HTTP server: ${mbs(floorSpread)}` : '–'} | ${floorSpread ? `${f2(readySpread.median / floorSpread.median)} ×` : ''} | ≤ 75 MB |`);
    if (r.fastifyFloorReadyBytes?.length) {
      const fastify = spreadOf(r.fastifyFloorReadyBytes);
      rows.push(`| RSS at ready, against the framework | **${mbs(readySpread)}** | bare Fastify app (\`bench/fastify-floor-server.mjs\`): ${mbs(fastify)} | ${f2(readySpread.median / fastify.median)} × | |`);
    }
    for (const m of r.memory) {
      const f = floorAt(m.entries);
      rows.push(`| RSS with ${n0(m.entries)} cached entries | **${mb(m.rssFilledBytes)}** | ${f ? mb(f.rssFilledBytes) : '–'} | ${f ? `${f2(m.rssFilledBytes / f.rssFilledBytes)} ×` : ''} | ${m.entries === 100_000 ? '≤ 160 MB' : ''} |`);
    }
  }
  if (rows.length === 0) return undefined;
  return section('The figures of issue 20, each beside its floor', [
    '| figure | the gateway: median (spread) | floor: median (spread) | gateway ÷ floor: median (spread) | target |',
    '| --- | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    sb
      ? `The floor of the hit rows is a bare Fastify route (\`bench/same-body-server.ts\`) answering with the same ${n0(sb.bodyBytes)}-byte body and the same ${sb.headerNames.length} response headers as the gateway's hit (${sb.headerNames.map((h) => `\`${h}\``).join(', ')}; captured from the running gateway), started the same way, in the same run; ${sb.rounds.length} round${sb.rounds.length === 1 ? '' : 's'}, alternating which server goes first. Spreads are min–max over the rounds; a ratio is taken within its round. Server CPU is read from the server's own \`/proc/<pid>/stat\` just before and just after each measured window (${r.shape.durationSeconds} s, after ${r.shape.warmupSeconds} s of warm-up). The open loop sends on a fixed schedule (${n0(sb.openRate)} req/s over at most ${sb.openConnections} keep-alive connections; \`bench/load-worker.ts\` says why not autocannon's \`overallRate\`), latency from each send.`
      : '',
    r.memory ? 'The floor of the memory rows is a bare Node HTTP server (`bench/memory-floor-server.mjs`, same binary and flags) holding the very answer texts in one `Map`; RSS at ready is over each fresh process the memory section started (one per count).' : '',
  ]);
}

interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean | null;
}

function targets(r: BenchReport): Target[] {
  const t: Target[] = [];
  const sb = r.sameBody && sameBodySummary(r.sameBody);
  if (sb) {
    t.push({ name: 'Hit server CPU per request ÷ the same-body bare route (same run)', target: '≤ 1.4 ×', measured: `**${f2(sb.cpu.ratio.median)} ×** (${spread(sb.cpu.ratio, 2)} over ${sb.rounds} rounds)`, met: sb.cpu.ratio.median <= 1.4 });
    t.push({
      name: `Hit p99, open loop at ${n0(r.sameBody!.openRate)} req/s`,
      target: "≤ 1 ms, and ≤ 1.5 × the bare route's p99",
      measured: `**${f3(sb.p99.gateway.median)} ms** vs ${f3(sb.p99.baseline.median)} ms = **${f2(sb.p99.ratio.median)} ×** (${spread(sb.p99.ratio, 2)})`,
      met: sb.p99.gateway.median <= 1 && sb.p99.ratio.median <= 1.5,
    });
  }
  if (r.herd) {
    t.push({ name: `${n0(r.herd.concurrent)} concurrent cold requests, one key`, target: '1 backend call', measured: `**${r.herd.backendReads}** KV read(s) at OpenBao (${r.herd.load.ok} answers 200)`, met: r.herd.backendReads === 1 && r.herd.load.ok === r.herd.concurrent });
  }
  if (r.amplification) {
    const s = r.amplification.steadyState;
    t.push({
      name: 'Steady state, found keys',
      target: '≤ 1 backend call per key per TTL (+ version checks)',
      measured: `max **${f2(s.maxReadsPerFoundKeyPerTtl)}** value reads and ${f2(s.maxVersionChecksPerFoundKeyPerTtl)} version checks per key per TTL; a rotated key: ${s.rotatedKeyReads} reads in ${Math.ceil(r.amplification.params.durationSeconds / r.amplification.ttlSeconds)} TTLs`,
      met: s.maxReadsPerFoundKeyPerTtl <= 1,
    });
    t.push({ name: 'Steady state, keys that exist nowhere', target: '≤ 1 call per backend per key per negative TTL', measured: `max **${f2(s.maxReadsPerMissingKeyPerNegativeTtl)}**`, met: s.maxReadsPerMissingKeyPerNegativeTtl <= 1 });
  }
  const m100 = r.memory?.find((m) => m.entries === 100_000);
  const floor100 = r.memoryFloor?.find((m) => m.entries === 100_000);
  const ready = r.memory && r.memory.length > 0 ? median(r.memory.map((m) => m.rssReadyBytes)) : undefined;
  if (ready !== undefined) {
    const floorReady = r.memoryFloor && r.memoryFloor.length > 0 ? `; a bare Node HTTP server: ${mb(median(r.memoryFloor.map((m) => m.rssReadyBytes)))}` : '';
    t.push({ name: 'RSS at ready', target: '≤ 75 MB', measured: `**${mb(ready)}** (median of ${r.memory!.length} starts${floorReady})`, met: ready <= 75 * 1024 ** 2 });
  }
  if (m100) {
    const floor = floor100 ? `; the answers alone in a bare Node process: ${mb(floor100.rssFilledBytes)}` : '';
    t.push({ name: 'RSS with 100k cached entries', target: '≤ 160 MB', measured: `**${mb(m100.rssFilledBytes)}** (${mb(m100.rssReadyBytes)} before filling${floor})`, met: m100.rssFilledBytes <= 160 * 1024 ** 2 });
  }
  for (const s of r.start ?? []) {
    t.push({ name: `Start → /readyz OK (${startLabel(s)})`, target: '≤ 300 ms', measured: `median **${n0(s.medianMs)} ms**`, met: s.medianMs <= 300 });
  }
  return t;
}

function startLabel(s: StartResult): string {
  if (s.entry === 'src') return '`npm start`, src with type stripping';
  return s.compileCache === 'empty' ? "built package, a new pod's first start: empty compile cache" : 'built package, as the image runs it';
}

function section(title: string, body: string[]): string {
  return `## ${title}\n\n${body.join('\n')}\n`;
}

export function renderReport(r: BenchReport): string {
  const m = r.machine;
  const parts: string[] = [];
  parts.push(`# Benchmark results${r.smoke ? ' (SMOKE RUN: figures are meaningless)' : ''}\n`);
  parts.push(
    `Written by \`${r.command}\` (bench/run.ts) on ${r.startedAt.slice(0, 10)}; run ${r.startedAt} → ${r.finishedAt ?? '?'}. ` +
      'Every number below comes from this one run. Times are also given as ratios to the baseline measured in the same run, because the machine is shared and noisy.\n',
  );
  const headline = renderHeadline(r);
  if (headline) parts.push(headline);
  parts.push(
    section('Machine', [
      `- CPU: ${m.cpuModel}, ${m.cpus} cores (/proc/cpuinfo); memory ${m.memoryGiB} GiB; ${m.kernel}`,
      `- Node ${m.node} (the project's pinned Node, for the bench, the servers and the load process alike); autocannon ${m.autocannon}`,
      `- Commit ${m.commit}`,
      `- Load average at the start ${m.loadAverageStart.join(' / ')}, at the end ${m.loadAverageEnd?.join(' / ') ?? '?'} (1 / 5 / 15 min; other engineers share this machine)`,
    ]),
  );
  parts.push(
    section('How it was measured', [
      `- Every server under test is a child process of the bench, started the same way (\`setpriv --pdeathsig\` wrapper, same Node binary and flags): the **baseline** (\`bench/baseline-server.ts\`: bare Fastify 5, one route returning \`{"hello":"world"}\`, no logger) and the **gateway** (\`NODE_COMPILE_CACHE=… node ${imageNodeFlags().join(' ')} src/main.ts serve --config …\`, exactly as \`npm start\` runs it, with the image's Node flags, on 127.0.0.1).`,
      '- The load comes from **autocannon, programmatic, in a separate process** (`bench/load-worker.ts`), so with two cores the server has one core and the load generator the other. Its CPU use is reported: near 1.0 means the load generator, not the server, set the pace.',
      `- Each load: ${r.shape.warmupSeconds} s warm-up (not measured), then ${r.shape.durationSeconds} s measured, HTTP/1.1 keep-alive, no pipelining. p50/p99 are computed from every response time (autocannon's own histogram has whole-ms buckets).`,
      '- The gateway runs with **access control** (HS256 JWT with `connections:read:*` scopes, verified per request), the **audit log** to a file (hash-chained, one event per request), **metrics** on, the per-request log line at `info`, and the cache at its defaults; the hit load cycles over 100 connection ids, all cached after the warm-up.',
      '- The baseline is run at the start and again at the end; ratios use the mean of the two, and their difference is the noise of this run.',
      '- The lead table compares the gateway with a bare Fastify route serving the same body with the same headers (`bench/same-body-server.ts`), alternated round by round; its CPU figures cover the measured window only (the load process reads the server\'s `/proc/<pid>/stat` just before and after it).',
    ]),
  );

  const tg = targets(r);
  if (tg.length > 0) {
    const starved = [...r.baselineStart, ...r.baselineEnd].filter((m) => m.serverCpu < 0.8);
    parts.push(
      section('Targets', [
        '| target | wanted | measured | |',
        '| --- | --- | --- | --- |',
        ...tg.map((t) => `| ${t.name} | ${t.target} | ${t.measured} | ${t.met === null ? '' : t.met ? 'met' : '**missed**'} |`),
        ...(starved.length > 0 && r.hit.length > 0
          ? [
              '',
              `**Caution:** in ${starved.length} of the ${r.baselineStart.length + r.baselineEnd.length} baseline runs the baseline server got less than 0.8 of a core (other tenants' load): its req/s and latency were held down by the machine, not by its own cost, so the req/s and latency ratios above flatter the gateway. The CPU time per request (section 1) is the fair comparison.`,
            ]
          : []),
      ]),
    );
  }

  if (r.sameBody && r.sameBody.rounds.length > 0) {
    const row = (round: number, label: string, m: Measured) =>
      `| ${round} | ${label} | ${m.connections} | ${n0(m.rps)} | ${f3(m.latencyMs.p50)} | ${f3(m.latencyMs.p99)} | ${f3(m.latencyMs.p999)} | ${f3(m.latencyMs.max)} | ${n0(m.ok)} | ${m.non2xx + m.errors + m.timeouts} | ${f2(m.serverCpu)} | ${f2(m.loaderCpu)} | **${f2(m.serverCpuUsPerMeasuredRequest)}** |`;
    parts.push(
      section('The hit against the same-body bare route: every round', [
        '| round | run | connections | req/s | p50 ms | p99 ms | p99.9 ms | max ms | answers | errors / unexpected | server CPU (cores, warm-up included) | load process CPU (cores) | server CPU µs per request (measured window) |',
        '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...r.sameBody.rounds.flatMap((x, i) => [
          row(i + 1, 'bare, closed loop', x.baseline),
          row(i + 1, 'gateway, closed loop', x.gateway),
          row(i + 1, `bare, open loop ${n0(r.sameBody!.openRate)}/s`, x.baselineOpen),
          row(i + 1, `gateway, open loop ${n0(r.sameBody!.openRate)}/s`, x.gatewayOpen),
        ]),
      ]),
    );
  }

  // Noise
  const noise = r.baselineStart.map((s) => {
    const e = r.baselineEnd.find((x) => x.connections === s.connections);
    return `| ${s.connections} | ${n0(s.rps)} | ${e ? n0(e.rps) : '?'} | ${e ? pct(Math.abs(e.rps - s.rps) / s.rps) : '?'} | ${f3(s.latencyMs.p99)} | ${e ? f3(e.latencyMs.p99) : '?'} |`;
  });
  parts.push(
    section('Noise: the baseline at the start and at the end of the run', [
      '| connections | req/s (start) | req/s (end) | difference | p99 ms (start) | p99 ms (end) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      ...noise,
    ]),
  );

  if (r.hit.length > 0) {
    const rows = r.hit.map((h) => {
      const b = baselineAt(r, h.connections);
      return `| ${h.connections} | ${n0(b.rps)} | ${n0(h.rps)} | **${pct(h.rps / b.rps)}** | ${f3(b.p50)} / ${f3(b.p99)} | ${f3(h.latencyMs.p50)} / ${f3(h.latencyMs.p99)} | **${f2(h.latencyMs.p50 / b.p50)} × / ${f2(h.latencyMs.p99 / b.p99)} ×** | ${f2(b.cpuUs)} / ${f2(h.serverCpuUsPerRequest)} = **${f2(h.serverCpuUsPerRequest / b.cpuUs)} ×** |`;
    });
    parts.push(
      section('1. Hit throughput and latency: `GET /v1/connections/{id}`, authenticated, cache hit, audit and metrics on', [
        '| connections | baseline req/s | gateway req/s | gateway / baseline | baseline p50 / p99 ms | gateway p50 / p99 ms | latency ratio p50 / p99 | server CPU µs per request, baseline / gateway |',
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...rows,
        '',
        'The last column: CPU time the server process used per answered request (from /proc, warm-up included), whatever else was running. These loads compare with the `{"hello":"world"}` baseline; the targets compare with the same-body route (the lead table).',
        '',
        'Raw runs:',
        '',
        LOAD_HEADER,
        ...r.baselineStart.map((x) => loadRow('baseline (start)', x)),
        ...r.hit.map((x) => loadRow('gateway hit', x)),
        ...r.baselineEnd.map((x) => loadRow('baseline (end)', x)),
        '',
        r.hitRssBytes !== undefined ? `Gateway RSS after the hit loads: ${mb(r.hitRssBytes)}.` : '',
      ]),
    );
  }

  if (r.audit) parts.push(renderAudit(r.audit, r.hit));

  if (r.batch) {
    const b = r.batch;
    const base = baselineAt(r, b.connections);
    parts.push(
      section(`2. Batch: \`POST /v1/lookup\` with ${BATCH_CONNECTIONS} connections and ${BATCH_VARIABLES} variables (all cached)`, [
        `- ${n0(b.rps)} requests/s = **${n0(b.rps * (BATCH_CONNECTIONS + BATCH_VARIABLES))} secrets/s**, p50 ${f3(b.latencyMs.p50)} ms, p99 ${f3(b.latencyMs.p99)} ms, at ${b.connections} connections.`,
        `- Against the baseline at ${b.connections} connections: ${pct(b.rps / base.rps)} of its requests/s; ${f2((b.rps * (BATCH_CONNECTIONS + BATCH_VARIABLES)) / base.rps)} × its requests/s counted in secrets; p99 ${f2(b.latencyMs.p99 / base.p99)} × its p99.`,
        '',
        LOAD_HEADER,
        loadRow('batch', b),
      ]),
    );
  }

  if (r.cold) {
    const c = r.cold;
    const sumDirect = c.vaultMissDirect.p50 + c.awsMissDirect.p50 + c.lastBackendDirect.p50;
    const nm = c.missing;
    parts.push(
      section('3. Cold misses through the chain', [
        'Chain: `environment`, `local_filesystem`, `vault` (OpenBao), `aws_secrets_manager` (moto), `gcp_secret_manager` (the GCP emulator); the key is in the last one. ' +
          `${c.keys} distinct keys, one request at a time, each key asked once (every request a cold miss).`,
        '',
        '| what | p50 ms | p99 ms | mean ms |',
        '| --- | ---: | ---: | ---: |',
        `| the last backend's own calls (GCP GetSecretVersion + AccessSecretVersion, direct, from the bench process) | ${f3(c.lastBackendDirect.p50)} | ${f3(c.lastBackendDirect.p99)} | ${f3(c.lastBackendDirect.mean)} |`,
        `| OpenBao miss (KV v2 read, 404, direct) | ${f3(c.vaultMissDirect.p50)} | ${f3(c.vaultMissDirect.p99)} | ${f3(c.vaultMissDirect.mean)} |`,
        `| moto miss (GetSecretValue, ResourceNotFound, direct) | ${f3(c.awsMissDirect.p50)} | ${f3(c.awsMissDirect.p99)} | ${f3(c.awsMissDirect.mean)} |`,
        `| gateway, GCP backend alone, cold | ${f3(c.aloneCold.latencyMs.p50)} | ${f3(c.aloneCold.latencyMs.p99)} | ${f3(c.aloneCold.latencyMs.mean)} |`,
        `| gateway, five backends, cold | ${f3(c.chainCold.latencyMs.p50)} | ${f3(c.chainCold.latencyMs.p99)} | ${f3(c.chainCold.latencyMs.mean)} |`,
        '',
        `- Five-backend cold miss / the last backend's own latency (p50): **${f2(c.chainCold.latencyMs.p50 / c.lastBackendDirect.p50)} ×**. The chain asks in order, as Airflow does: the sum of the three network backends' own p50s is ${f3(sumDirect)} ms, so the gateway's own share of a five-backend cold miss is about ${f3(c.chainCold.latencyMs.p50 - sumDirect)} ms (p50).`,
        `- Single backend cold miss / that backend's own latency (p50): **${f2(c.aloneCold.latencyMs.p50 / c.lastBackendDirect.p50)} ×** (HTTP, auth, audit, cache miss path, the gateway's gRPC client).`,
        '',
        '**A key that exists nowhere** (five backends answer "not found"; the answer is a 404):',
        '',
        '| negative caching | connections | answers/s | p50 ms | p99 ms | backend calls per request |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        `| on (negative_ttl_seconds 30, the default) | ${nm.negativeOn.connections} | ${n0(nm.negativeOn.rps)} | ${f3(nm.negativeOn.latencyMs.p50)} | ${f3(nm.negativeOn.latencyMs.p99)} | ${f3(nm.negativeOn.backendCallsPerRequest)} |`,
        `| off (negative_ttl_seconds 0) | ${nm.negativeOff.connections} | ${n0(nm.negativeOff.rps)} | ${f3(nm.negativeOff.latencyMs.p50)} | ${f3(nm.negativeOff.latencyMs.p99)} | ${f3(nm.negativeOff.backendCallsPerRequest)} |`,
        `| off, one request at a time | 1 | ${n0(nm.negativeOffSequential.rps)} | ${f3(nm.negativeOffSequential.latencyMs.p50)} | ${f3(nm.negativeOffSequential.latencyMs.p99)} | |`,
        '',
        `- With negative caching off, concurrent requests for the same missing key still share one lookup (coalescing), which is why 10 connections cost fewer than 3 calls per request (three network backends are asked per walk).`,
      ]),
    );
  }

  if (r.amplification) parts.push(renderAmplification(r.amplification));

  if (r.herd) {
    const h = r.herd;
    parts.push(
      section('Thundering herd: concurrent cold requests for one key', [
        `${n0(h.concurrent)} connections, each sending one \`GET /v1/connections/herd_key\` at once to a fresh gateway over OpenBao: **${h.backendReads}** KV read of that key reached OpenBao (its audit log), ` +
          `${h.otherBackendCalls} other call(s) from the gateway's token (token lookup at start). ${n0(h.load.ok)} answers 200, ${h.load.non2xx + h.load.errors + h.load.timeouts} otherwise; p50 ${f3(h.load.latencyMs.p50)} ms, p99 ${f3(h.load.latencyMs.p99)} ms, max ${f3(h.load.latencyMs.max)} ms.`,
      ]),
    );
  }

  if (r.memory) {
    parts.push(
      section('5. Memory and start', [
        '| cached entries | gateway started as | RSS at ready (cache empty) | RSS with every entry cached | the cache\'s share | per entry | V8 heap used / reserved after filling | entries the gateway reports | fill time |',
        '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...r.memory.map(
          (x) =>
            `| ${n0(x.entries)} | ${x.entry === 'dist' ? `\`node ${imageNodeFlags().join(' ')} dist/main.js\` (the image)` : `\`node ${imageNodeFlags().join(' ')} src/main.ts\` (npm start)`} | ${mb(x.rssReadyBytes)} | **${mb(x.rssFilledBytes)}** | ${mb(x.rssFilledBytes - x.rssReadyBytes)} | ${n0((x.rssFilledBytes - x.rssReadyBytes) / x.entries)} B | ${mb(x.heapUsedBytes)} / ${mb(x.heapTotalBytes)} | ${n0(x.cachedEntries)} | ${f2(x.fillSeconds)} s |`,
        ),
        '',
        'Entries are connections of 8 fields (with a JSON extra) in an Airflow metadata database on a real PostgreSQL, read by the `airflow_metastore` backend: the process holds no copy of them but the cache\'s. Each gateway is a fresh process, filled by `POST /v1/lookup` batches of 100.',
        '',
        ...(r.memoryFloor?.length
          ? [
              '**The floor:** the same answers (the very text the gateway sends for each id) held by a bare Node process, same binary and flags, in one `Map` and nothing else (`bench/memory-floor-server.mjs`; posted in batches of 100, four in flight), a fresh process per count:',
              '',
              '| answers held | RSS at ready | RSS holding them all | growth | per answer | the gateway\'s RSS at ready + this growth |',
              '| ---: | ---: | ---: | ---: | ---: | ---: |',
              ...r.memoryFloor.map((x) => {
                const gw = r.memory?.find((g) => g.entries === x.entries);
                const grown = x.rssFilledBytes - x.rssReadyBytes;
                return `| ${n0(x.entries)} | ${mb(x.rssReadyBytes)} | **${mb(x.rssFilledBytes)}** | ${mb(grown)} | ${n0(grown / x.entries)} B | ${gw ? mb(gw.rssReadyBytes + grown) : '–'} |`;
              }),
              '',
            ]
          : []),
        ...(r.start ?? []).map((s) => `- Start → first \`/readyz\` 200 (\`${s.entry === 'dist' ? 'node dist/main.js serve' : 'node src/main.ts serve'}\`${s.compileCache === 'empty' ? ', each start with an empty compile cache' : ''}, local_filesystem + environment, auth, audit, metrics), polled every 2 ms: median **${n0(s.medianMs)} ms** over ${s.runsMs.length} starts (${s.runsMs.map((x) => n0(x)).join(', ')} ms).`),
      ]),
    );
  }

  const log = join(BENCH_DIR, 'optimization-log.md');
  if (existsSync(log)) parts.push(readFileSync(log, 'utf8'));
  return parts.join('\n');
}

function renderAmplification(a: AmplificationResult): string {
  const p = a.params;
  const total = (calls: number[]) => calls.reduce((x, y) => x + y, 0);
  const g = a.gateway.calls;
  const gatewayTotal = g.reduce((x, c) => x + c.reads + c.versionChecks + c.other, 0);
  const row = (label: string, perBackend: string[], all: number, stale: number | string) => `| ${label} | ${perBackend.join(' | ')} | **${n0(all)}** | ${stale} |`;
  return section('4. Backend amplification under an Airflow-like load', [
    `${p.workers} workers, each starting a task every ${p.taskIntervalSeconds} s (in ${p.phaseGroups} groups that start together), for ${p.durationSeconds} simulated seconds (${f2(p.durationSeconds / a.ttlSeconds)} TTLs of ${a.ttlSeconds} s): ` +
      `${n0(a.taskStarts)} task starts, each looking up ${p.connectionsPerTask} connections and ${p.variablesPerTask} variables of its DAG (${p.dags} DAGs over ${p.connectionPool} connections and ${p.variablePool} variables) and one variable that exists nowhere (a feature flag read with a default): ${n0(a.lookups)} lookups. ` +
      `Chain: OpenBao (holds ${p.connectionsInFirst} of the connections), then moto (the other connections and every variable). Halfway, one connection in OpenBao and one variable in moto are rotated.`,
    '',
    `The gateway is real (built in the bench process so its cache runs on a simulated clock; requests over HTTP on loopback, with tokens, audit and metrics); OpenBao and moto are real servers, and their calls are counted from their own records (OpenBao's audit device, moto's request recorder). Cache: ttl ${a.ttlSeconds} s, negative ttl ${a.negativeTtlSeconds} s, stale-while-revalidate 60 s (defaults otherwise).`,
    '',
    '| who | OpenBao calls | moto calls | total | lookups answered with a value older than the backend\'s |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('Airflow, no cache (model)', a.airflowNoCache.calls.map(n0), total(a.airflowNoCache.calls), 0),
    row('Airflow with `SecretCache` as shipped: off in tasks (model)', a.airflowNoCache.calls.map(n0), total(a.airflowNoCache.calls), 0),
    row(`Airflow with \`SecretCache\` on in every worker, ttl ${a.airflowCacheTtlSeconds} s (hypothetical model)`, a.airflowSecretCache.calls.map(n0), total(a.airflowSecretCache.calls), a.airflowSecretCache.staleServed),
    row(`… the same, ttl ${a.ttlSeconds} s (hypothetical model)`, a.airflowSecretCacheSameTtl.calls.map(n0), total(a.airflowSecretCacheSameTtl.calls), a.airflowSecretCacheSameTtl.staleServed),
    row(
      '**the gateway (measured)**',
      g.map((c) => `${n0(c.reads + c.versionChecks + c.other)} (${n0(c.reads)} reads, ${n0(c.versionChecks)} version checks, ${n0(c.other)} other)`),
      gatewayTotal,
      a.gateway.staleServed,
    ),
    '',
    `- Calls the gateway saved: **${f2(total(a.airflowNoCache.calls) / Math.max(1, gatewayTotal))} ×** fewer than Airflow without a cache (and than Airflow as shipped, whose SecretCache does not run in tasks); ${f2(total(a.airflowSecretCache.calls) / Math.max(1, gatewayTotal))} × fewer than the hypothetical per-worker SecretCache at its default TTL. ${a.gateway.errors} lookups failed.`,
    '- Version checks are OpenBao KV v2 metadata reads and moto `DescribeSecret`: no secret value is read or decrypted; an unchanged version re-arms the TTL.',
    '',
    '**The Airflow model** (bench/lib/airflow-model.ts, from spec §2–§3 of airflow-secrets-spec.md, run over the very trace the gateway got):',
    '',
    '- *No cache*: each lookup asks the backends in order up to the first that has the key (all of them for a key that exists nowhere): one call per backend on the path. Airflow would then also ask its environment (free) and its metastore (a database query) for a missing key; neither is counted. Airflow allows one custom backend, not a chain of two: the model charges the same two-backend path the gateway walks.',
    '- *SecretCache as shipped*: only the DAG processor calls `SecretCache.init()`; during task execution the cache is off, so task starts cost exactly the no-cache figure (and `[secrets] use_cache` is off by default).',
    '- *SecretCache on in the workers* (hypothetical, generous to Airflow): one cache per worker that survives across its tasks (really each task runs in a fresh process); an entry expires when `now - saved > ttl` and is then fetched again; found connections and variables are cached, missing ones are not (the task SDK caches found variables only; connections are never cached as missing). Nothing invalidates on rotation: a rotated secret is served old until the entry expires in each worker.',
  ]);
}

function renderAudit(a: AuditResult, hit: Measured[]): string {
  const perDay = (rps: number) => `${f2((a.bytesPerEvent * rps * 86400) / 1e9)} GB`;
  const busiest = hit.reduce<Measured | undefined>((m, h) => (!m || h.rps > m.rps ? h : m), undefined);
  return section('Audit log: bytes per event and the sink\'s cost per event', [
    `- A realistic access event (authenticated connection read with an Airflow context, chained): **${n0(a.bytesPerEvent)} bytes** (${n0(a.bytesPerEventBefore)} in the shape before the leaner events, which repeated kind, method and route and wrote empty fields); at 100 / 1,000 / 3,000 requests/s that is ${perDay(100)} / ${perDay(1000)} / ${perDay(3000)} a day.`,
    a.hitGateway ? `- The hit loads' own audit log: ${n0(a.hitGateway.bytesPerEvent)} bytes per line over ${n0(a.hitGateway.events)} lines.` : '',
    `- The file sink's CPU per event (chaining, serializing, SHA-256, write(2); ${n0(a.events)} events in batches of 256): ${a.sinkCpuUsPerEvent.map((x) => `rotation ${x.rotation} **${f2(x.us)} µs**`).join(', ')}.`,
    busiest ? `- Against the gateway's server CPU per hit request (${f2(busiest.serverCpuUsPerRequest)} µs at ${busiest.connections} connections): the audit write is ${pct(a.sinkCpuUsPerEvent[1]!.us / busiest.serverCpuUsPerRequest)} of it (default rotation).` : '',
  ]);
}
