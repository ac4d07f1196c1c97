// The staging deployment end to end (test/helpers/staging.ts starts it): real Airflow 3 with the
// CeleryExecutor and two Celery workers, whose tasks read connections and variables through
// HAProxy and two gateway replicas. While DAG runs are going:
//
//   1. a connection's password is rotated in OpenBao (a new KV version): every task instance that
//      starts later than the rotation plus the connections' cache TTL sees the new fingerprint,
//      with no worker restarted;
//   2. a variable is rotated in OpenBao (cached for 300 s) and then invalidated through
//      POST /v1/cache/invalidate on the load balancer: both replicas serve the new value within
//      1 s (Redis fan-out), and every task instance on either worker that starts 1 s later sees it;
//   3. one replica is SIGKILLed while tasks read through it, then restarted; later the other one
//      gets SIGTERM: no task instance fails.
//
// `npm test` runs the default (5 DAG runs × 8 mapped task instances, 80–150 s on 2 cores).
// `SG_STAGING_LONG=1 npx node --test test/staging/staging.test.ts` runs 12 runs × 10 task instances,
// each reading for 3 s (about 3.5 min).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AIRFLOW_PYTHON, fingerprint, secretValue, startStagingStack, type StagingStack, type TaskResult } from '../helpers/staging.ts';

const LONG = process.env['SG_STAGING_LONG'] === '1';
const RUNS = LONG ? 12 : 5;
const TASKS_PER_RUN = LONG ? 10 : 8;
const TOTAL = RUNS * TASKS_PER_RUN;
const CONNECTION_TTL_SECONDS = 3;
const skip = existsSync(AIRFLOW_PYTHON) ? false : `no Airflow at ${AIRFLOW_PYTHON}: run scripts/provision.sh`;

let stack: StagingStack;
const startedAt = performance.now();

before(async () => {
  if (skip) return;
  stack = await startStagingStack({ connectionTtlSeconds: CONNECTION_TTL_SECONDS, tasksPerRun: TASKS_PER_RUN, holdSeconds: LONG ? 3 : 2, concurrency: 2 });
  console.log(`# staging stack up in ${(stack.timings['celery workers']! / 1000).toFixed(1)} s: ${JSON.stringify(stack.timings)} (ms since start)`);
});

after(async () => {
  await stack?.stop();
  console.log(`# staging test, start to stop: ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
});

/** Waits until at least `n` task instances have finished (any terminal state). */
async function finished(n: number, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const states = await stack.taskStates();
    const done = (states['success'] ?? 0) + (states['failed'] ?? 0) + (states['upstream_failed'] ?? 0);
    if (done >= n) return;
    if (Date.now() > end) throw new Error(`only ${done} of ${n} task instances finished in ${timeoutMs} ms: ${JSON.stringify(states)}`);
    await sleep(250);
  }
}

/** Waits until at least `n` task instances have finished and tasks are reading through `replica` right now
 * (its audit log grows), so that what comes next to it happens while tasks read through it. */
async function midRun(n: number, replica: StagingStack['replicas'][number]): Promise<void> {
  await finished(n);
  const end = Date.now() + 120_000;
  let before = stack.auditReads(replica);
  for (;;) {
    await sleep(200);
    const now = stack.auditReads(replica);
    // A task in its reading loop makes several reads a replica in 200 ms; one read may be a task's last.
    if (now - before >= 4) return;
    if (Date.now() > end) throw new Error(`no task read through ${replica.name}`);
    before = now;
  }
}

/** The gateway's answer for a variable, straight from one replica (not through the load balancer). */
async function variableAt(base: string, key: string): Promise<string> {
  const res = await fetch(`${base}/v1/variables/${key}`, { headers: { authorization: `Bearer ${stack.operatorToken()}` } });
  assert.equal(res.status, 200);
  return fingerprint(((await res.json()) as { value: string }).value);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

test(`staging: ${TOTAL} task instances on two Celery workers through HAProxy and two replicas, with rotations and replica failures mid-run`, { skip, timeout: 900_000 }, async () => {
  const old = { ...stack.secrets };
  const [a, b] = stack.replicas;
  const t0 = Date.now();
  for (let i = 0; i < RUNS; i++) await stack.triggerRun(`staging-${i + 1}`);

  // 1. Rotation in OpenBao, no invalidation: the connections' TTL brings it.
  await finished(Math.round(TOTAL * 0.15));
  const warehouseNew = secretValue('warehouse-pw-rotated');
  await stack.rotate('stg_warehouse', warehouseNew);
  const rotatedAt = Date.now();

  // 2. Rotation in OpenBao, then an invalidation through the load balancer.
  await finished(Math.round(TOTAL * 0.3));
  const apiKeyNew = secretValue('api-key-rotated');
  await stack.rotate('stg_api_key', apiKeyNew);
  await sleep(1000);
  // Both replicas still serve the cached value: without the invalidation, tasks would see it for 300 s.
  for (const r of [a, b]) assert.equal(await variableAt(r.base, 'stg_api_key'), fingerprint(old.stg_api_key), `${r.name} serves its cached value`);
  const invalidation = await stack.invalidate({ kind: 'variable', id: 'stg_api_key' });
  const invalidatedAt = Date.now();
  assert.equal(invalidation.fanout, 'published');
  const applied = await Promise.all(
    [a, b].map(async (r) => {
      while (Date.now() - invalidatedAt < 5000) {
        if ((await variableAt(r.base, 'stg_api_key')) === fingerprint(apiKeyNew)) return Date.now() - invalidatedAt;
        await sleep(10);
      }
      return Infinity;
    }),
  );
  for (const [i, ms] of applied.entries()) assert.ok(ms <= 1000, `replica ${i} serves the new value ${ms} ms after the invalidation`);

  // 3. SIGKILL replica a while tasks read through it; restart it; later SIGTERM replica b.
  await midRun(Math.round(TOTAL * 0.45), a);
  const killedAt = Date.now();
  await a.proc.kill();
  const downAfter = await waitLbState(a, 'DOWN');
  await sleep(2000);
  await a.start();
  const upAfter = await waitLbState(a, 'UP');
  await midRun(Math.round(TOTAL * 0.65), b);
  const terminatedAt = Date.now();
  await b.proc.stop(30_000, 'SIGTERM');
  const bExit = await b.proc.exited;
  const termDownAfter = await waitLbState(b, 'DOWN');

  // All runs to the end.
  await finished(TOTAL, 600_000);
  const elapsed = Date.now() - t0;
  const states = await stack.taskStates();
  const results = await stack.results();

  // ---- The closing figures.
  const started = (r: TaskResult) => r.started * 1000;
  const sawNew = (key: 'stg_warehouse' | 'stg_api_key', value: string) => results.filter((r) => r.first[key] === fingerprint(value));
  const afterTtl = results.filter((r) => started(r) > rotatedAt + CONNECTION_TTL_SECONDS * 1000);
  const afterInvalidation = results.filter((r) => started(r) > invalidatedAt + 1000);
  const straddling = (at: number) => results.filter((r) => started(r) < at && r.finished * 1000 > at).length;
  const byWorker = (rs: TaskResult[]) => Object.fromEntries(['worker-1', 'worker-2'].map((w) => [w, rs.filter((r) => r.worker === w).length]));
  const firstNew = (rs: TaskResult[], at: number) => (rs.length ? seconds(Math.min(...rs.map(started)) - at) : 'none');
  const auditCounts = [a, b].map((r) => ({ replica: r.name, reads: stack.auditReads(r) }));
  const lb = stack.lbSummary();
  const retriedWithin = (at: number) => lb.retriedAt.filter((t) => t >= at - 1000 && t <= at + 5000).length;
  const lookups = results.reduce((sum, r) => sum + r.reads * 4, 0);
  const backend = stack.backendReads();
  console.log(
    [
      `# task instances: ${results.length} with an XCom; states ${JSON.stringify(states)}; ${RUNS} DAG runs in ${seconds(elapsed)}; per worker ${JSON.stringify(byWorker(results))}`,
      `# lookups by the tasks: ${lookups} (${(lookups / (elapsed / 1000)).toFixed(0)} a second over the DAG runs); audit events of the workers' reads per replica ${JSON.stringify(auditCounts)}; OpenBao served the gateways ${backend.values} value reads and ${backend.versions} version checks (${(lookups / (backend.values + backend.versions)).toFixed(0)} lookups per backend call; Airflow's own VaultBackend without its cache makes one per lookup)`,
      `# connection rotated in OpenBao at +${seconds(rotatedAt - t0)}: ${sawNew('stg_warehouse', warehouseNew).length} task instances saw the new fingerprint, the first starting ${firstNew(sawNew('stg_warehouse', warehouseNew), rotatedAt)} after the rotation (TTL ${CONNECTION_TTL_SECONDS} s); ${afterTtl.length} started after rotation + TTL`,
      `# variable rotated and invalidated at +${seconds(invalidatedAt - t0)}: both replicas served it after ${applied.map((ms) => `${ms} ms`).join(', ')}; ${sawNew('stg_api_key', apiKeyNew).length} task instances saw it (per worker ${JSON.stringify(byWorker(sawNew('stg_api_key', apiKeyNew)))}), the first starting ${firstNew(sawNew('stg_api_key', apiKeyNew), invalidatedAt)} after the invalidation`,
      `# replica-a SIGKILLed at +${seconds(killedAt - t0)} with ${straddling(killedAt)} task instances reading; HAProxy marked it DOWN after ${seconds(downAfter)} and retried ${retriedWithin(killedAt)} requests on the other replica; UP again ${seconds(upAfter)} after its restart`,
      `# replica-b SIGTERMed at +${seconds(terminatedAt - t0)} with ${straddling(terminatedAt)} task instances reading; it exited with ${bExit.code ?? bExit.signal}, DOWN in HAProxy after ${seconds(termDownAfter)}; ${retriedWithin(terminatedAt)} requests retried on the other replica`,
      `# HAProxy: ${lb.requests} requests, status ${JSON.stringify(lb.status)}, per replica ${JSON.stringify(lb.servers)}, ${lb.retried} retried or redispatched to the other replica`,
      `# failed task instances: ${(states['failed'] ?? 0) + (states['upstream_failed'] ?? 0)}`,
    ].join('\n'),
  );

  // ---- What must hold.
  assert.deepEqual(states, { success: TOTAL }, 'every task instance succeeded: 0 failed through the rotations and the replica failures');
  assert.equal(results.length, TOTAL, 'each task instance pushed its fingerprints');
  for (const [key, value] of Object.entries(old)) {
    const unrotated = key === 'stg_api' || key === 'stg_region';
    if (unrotated) for (const r of results) assert.equal(r.first[key as keyof typeof old], fingerprint(value), `${key} unchanged`);
  }
  // Rotation by TTL: every task started after rotation + TTL saw the new password; none saw it before the rotation.
  assert.ok(afterTtl.length >= TOTAL * 0.3, `enough task instances started after rotation + TTL (${afterTtl.length})`);
  for (const r of afterTtl) assert.equal(r.first.stg_warehouse, fingerprint(warehouseNew), `${r.run_id}[${r.map_index}] on ${r.worker}, started ${seconds(started(r) - rotatedAt)} after the rotation, saw the new password`);
  for (const r of results.filter((x) => x.first_read_done * 1000 < rotatedAt)) assert.equal(r.first.stg_warehouse, fingerprint(old.stg_warehouse));
  // Rotation by invalidation: every task started 1 s after it, on both workers, saw the new value.
  assert.ok(afterInvalidation.length >= TOTAL * 0.3, `enough task instances started after the invalidation (${afterInvalidation.length})`);
  for (const r of afterInvalidation) assert.equal(r.first.stg_api_key, fingerprint(apiKeyNew), `${r.run_id}[${r.map_index}] on ${r.worker} saw the invalidated variable's new value`);
  for (const [worker, n] of Object.entries(byWorker(afterInvalidation))) assert.ok(n > 0, `${worker} ran tasks after the invalidation`);
  // The failures hit while tasks were reading, and both replicas had served the tasks.
  assert.ok(straddling(killedAt) > 0, 'task instances were running when replica-a was killed');
  assert.ok(straddling(terminatedAt) > 0, 'task instances were running when replica-b got SIGTERM');
  for (const { replica, reads } of auditCounts) assert.ok(reads > 0, `${replica} served task reads`);
  assert.equal(bExit.code, 0, 'replica-b drained and exited 0 on SIGTERM');
  // The cache works across the stack: OpenBao saw a small fraction of the lookups (about 1 in 70 measured, with a 3 s TTL).
  assert.ok(lookups / (backend.values + backend.versions) >= 10, 'at least 10 lookups per OpenBao call');
});

async function waitLbState(replica: StagingStack['replicas'][number], state: string): Promise<number> {
  const t = Date.now();
  while (Date.now() - t < 30_000) {
    if ((await stack.lbState(replica)) === state) return Date.now() - t;
    await sleep(50);
  }
  throw new Error(`HAProxy did not mark ${replica.name} ${state} within 30 s`);
}
