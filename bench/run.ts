// `npm run bench`: starts everything it measures (on loopback), measures, and writes
// bench/RESULTS.md. `npm run bench -- --smoke` runs every section for a moment, asserts
// nothing about timings, and writes bench/.tmp/RESULTS.smoke.md (CI runs it so the bench
// keeps working). `--only hit,batch,...` runs some sections (the baseline always runs).
//
// The primary hit figures (issue 20, section `same-body`): the gateway's hit against a bare
// Fastify route serving the same body with the same headers, alternated round by round: server
// CPU per request over the measured window (closed loop) and open-loop latency at a fixed rate.
//
// Order of a full run: baseline, then the gateway's same-body rounds, hit and batch loads, the cold, herd,
// amplification, memory and start sections, and the baseline again at the end: how far the
// two baselines differ is how noisy the machine was during the run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo, renderReport, type BenchReport } from './lib/report.ts';
import { BENCH_DIR, REPO_DIR, startBaseline } from './lib/processes.ts';
import { measureAmplification } from './sections/amplification.ts';
import { measureCold } from './sections/cold.ts';
import { measureHerd } from './sections/herd.ts';
import { auditLogOf, measureAuditSink } from './sections/audit.ts';
import { measureFastifyFloor, measureMemory, measureMemoryFloor, measureStart } from './sections/memory-start.ts';
import { measureSameBody } from './sections/same-body.ts';
import { baselineLoad, batchLoad, hitLoad, startHitGateway, type LoadShape } from './sections/throughput.ts';
import type { WorkloadParams } from './lib/workload.ts';

const SECTIONS = ['same-body', 'hit', 'batch', 'audit', 'cold', 'herd', 'amplification', 'memory', 'start'] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    // Writes a V8 CPU profile of the hit/batch gateway to bench/.tmp/profile/ (see bench/cpu-profile-summary.ts).
    profile: { type: 'boolean', default: false },
  },
});
const smoke = args.smoke === true;
const only = new Set<Section>(args.only ? (args.only.split(',') as Section[]) : SECTIONS);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (one of ${SECTIONS.join(', ')})`);

const profile = smoke
  ? {
      shape: { durationSeconds: 0.5, warmupSeconds: 0.2 } satisfies LoadShape,
      sameBody: { rounds: 1, connections: 10, openRate: 500, openConnections: 10 },
      connections: [10],
      cold: { keys: 5, missingSeconds: 0.5 },
      herd: 50,
      workload: { workers: 4, dags: 2, taskIntervalSeconds: 60, phaseGroups: 2, durationSeconds: 120, connectionsPerTask: 2, variablesPerTask: 2, connectionPool: 4, variablePool: 4, missingPool: 1, connectionsInFirst: 2 } satisfies WorkloadParams,
      cache: { ttlSeconds: 60, negativeTtlSeconds: 30 },
      memory: [1000],
      start: { repetitions: 1, runs: [['src', 'warm']] as const },
    }
  : {
      shape: { durationSeconds: 8, warmupSeconds: 2 } satisfies LoadShape,
      sameBody: { rounds: 3, connections: 50, openRate: 5000, openConnections: 50 },
      connections: [10, 50, 200],
      cold: { keys: 200, missingSeconds: 5 },
      herd: 1000,
      workload: { workers: 40, dags: 8, taskIntervalSeconds: 60, phaseGroups: 10, durationSeconds: 1200, connectionsPerTask: 4, variablesPerTask: 4, connectionPool: 12, variablePool: 12, missingPool: 3, connectionsInFirst: 8 } satisfies WorkloadParams,
      cache: { ttlSeconds: 300, negativeTtlSeconds: 30 },
      memory: [10_000, 100_000],
      start: { repetitions: 5, runs: [['dist', 'warm'], ['dist', 'empty'], ['src', 'warm']] as const },
    };

const say = (line: string) => process.stdout.write(`bench: ${line}\n`);
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const report: BenchReport = {
  smoke,
  command: smoke ? 'npm run bench -- --smoke' : `npm run bench${args.only ? ` -- --only ${args.only}` : ''}`,
  machine: machineInfo(),
  startedAt: new Date().toISOString(),
  shape: profile.shape,
  baselineStart: [],
  baselineEnd: [],
  hit: [],
};

if (!smoke && (only.has('start') || only.has('memory'))) {
  // Start time and memory are measured on the built package (what the image runs): dist/ must match src/.
  // The whole of `npm run build`: tsc alone would leave dist/cli.js unbundled, which is not what runs.
  say('building dist/ for the start measurement');
  execFileSync(join(REPO_DIR, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: REPO_DIR, stdio: 'inherit' });
  execFileSync(process.execPath, [join(REPO_DIR, 'scripts/bundle.ts')], { cwd: REPO_DIR, stdio: 'inherit' });
}

// The {"hello":"world"} baseline is for the hit and batch sections (and the noise of the run); others need none.
const baseline = only.has('hit') || only.has('batch') ? await startBaseline() : undefined;
if (baseline) {
  for (const c of profile.connections) report.baselineStart.push(await baselineLoad(baseline, c, profile.shape));
  say(`baseline (start) measured, ${elapsed()}`);
}

if (only.has('same-body') || only.has('hit') || only.has('batch')) {
  const { gateway, token } = await startHitGateway(args.profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(BENCH_DIR, '.tmp', 'profile')}`] } : {});
  try {
    if (only.has('same-body')) {
      report.sameBody = await measureSameBody(gateway, token, { ...profile.sameBody, shape: profile.shape });
      say(`same-body rounds measured, ${elapsed()}`);
    }
    if (only.has('hit')) {
      for (const c of profile.connections) report.hit.push(await hitLoad(gateway, token, c, profile.shape));
      report.hitRssBytes = gateway.rssBytes();
      report.hitAudit = auditLogOf(gateway.dir);
      say(`hit measured, ${elapsed()}`);
    }
    if (only.has('batch')) {
      report.batch = await batchLoad(gateway, token, smoke ? 10 : 50, profile.shape);
      say(`batch measured, ${elapsed()}`);
    }
  } finally {
    await gateway.stop();
  }
}
if (only.has('audit')) {
  report.audit = await measureAuditSink(smoke ? 5_000 : 200_000);
  if (report.hitAudit) report.audit.hitGateway = report.hitAudit;
  say(`audit measured, ${elapsed()}`);
}
if (only.has('cold')) {
  report.cold = await measureCold(profile.cold);
  say(`cold measured, ${elapsed()}`);
}
if (only.has('herd')) {
  report.herd = await measureHerd(profile.herd);
  say(`herd measured, ${elapsed()}`);
}
if (only.has('amplification')) {
  report.amplification = await measureAmplification(profile.workload, profile.cache);
  say(`amplification measured, ${elapsed()}`);
}
if (only.has('memory')) {
  report.memory = await measureMemory(profile.memory, smoke ? 'src' : 'dist');
  report.memoryFloor = await measureMemoryFloor(profile.memory);
  report.fastifyFloorReadyBytes = await measureFastifyFloor(smoke ? 1 : 3);
  say(`memory measured, ${elapsed()}`);
}
if (only.has('start')) {
  report.start = [];
  for (const [entry, cache] of profile.start.runs) report.start.push(await measureStart(entry, profile.start.repetitions, cache));
  say(`start measured, ${elapsed()}`);
}

if (baseline) {
  for (const c of profile.connections) report.baselineEnd.push(await baselineLoad(baseline, c, profile.shape));
  await baseline.stop();
}
report.finishedAt = new Date().toISOString();
report.machine.loadAverageEnd = machineInfo().loadAverageStart;

const out = args.out ?? (smoke ? join(BENCH_DIR, '.tmp', 'RESULTS.smoke.md') : join(BENCH_DIR, 'RESULTS.md'));
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, renderReport(report));
writeFileSync(out.replace(/\.md$/, '.json'), `${JSON.stringify(report, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2)}\n`);
say(`report written to ${out} (${elapsed()})`);
