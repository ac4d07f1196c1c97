// Benchmark (not a test): what the audit log costs per request, on its own. Writes a
// realistic access event (the shape src/auth/plugin.ts builds for an authenticated
// connection read, with an Airflow context and a fingerprint) through the real file
// sink, as the gateway does: a batch every 256 events. Reports the bytes per event,
// the disk a given request rate fills, and the sink's CPU time per event (chaining,
// serializing, hashing, write(2)) without rotation, with the default rotation, and
// with a small max_bytes that rotates every few hundred events.
//   node bench/audit-sink.ts [events]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { DEFAULT_ROTATE, openFileSink, type FileSinkOptions } from '../src/audit/sink.ts';

const EVENTS = Number(process.argv[2] ?? 200_000);
const logger = pino({ level: 'silent' });

const event = (i: number) => ({
  type: 'access',
  time: new Date(1_764_800_000_000 + i).toISOString(),
  request_id: `0b9f6c1e-3d2a-4c5b-9e8f-${String(i).padStart(12, '0')}`,
  method: 'GET',
  route: '/v1/connections/*',
  client: '10.1.2.3',
  subject: 'system:serviceaccount:airflow:airflow-worker',
  issuer: 'https://kubernetes.default.svc',
  airflow: { verified: true, dag_id: 'etl_daily', task_id: 'load_warehouse', run_id: 'scheduled__2026-12-04T00:00:00+00:00', try_number: '1' },
  status: 200,
  latency_ms: 0.42,
  action: 'connections:read',
  kind: 'connection',
  id: 'warehouse',
  decision: 'allow',
  outcome: 'found',
  backend: 'vault',
  fingerprint: 'hmac-sha256:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
});

async function run(name: string, rotate: FileSinkOptions['rotate']): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-audit-bench-'));
  const sink = openFileSink(path.join(dir, 'audit.log'), logger, { rotate });
  const events = Array.from({ length: EVENTS }, (_, i) => event(i));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const e of events) sink.write(e); // 256 at a time reach write(2), as under load
  await sink.close();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const files = readdirSync(dir);
  const cpuUs = (cpu.user + cpu.system) / EVENTS;
  // (With rotation, files beyond `keep` are gone: the bytes per event are measured without it.)
  const perEvent = statSync(path.join(dir, 'audit.log')).size / EVENTS;
  const size = rotate ? '' : `${perEvent.toFixed(0)} bytes/event, `;
  console.log(`${name.padEnd(36)} ${size}${cpuUs.toFixed(2)} µs CPU/event (${((wallMs * 1000) / EVENTS).toFixed(2)} µs wall), ${files.length} file(s) left`);
  rmSync(dir, { recursive: true, force: true });
  return perEvent;
}

const bytes = await run('no rotation', false);
await run(`default rotation (${DEFAULT_ROTATE.max_bytes / 1048576} MiB, keep ${DEFAULT_ROTATE.keep})`, { ...DEFAULT_ROTATE });
await run('rotation every 256 KiB', { max_bytes: 256 * 1024, keep: 3 });
for (const rps of [100, 1000, 3000]) console.log(`at ${rps} req/s: ${((bytes * rps * 86400) / 1e9).toFixed(1)} GB/day of audit log (one event per request); the default 1 GiB holds ${((DEFAULT_ROTATE.max_bytes * (DEFAULT_ROTATE.keep + 1)) / (bytes * rps) / 3600).toFixed(1)} h`);
