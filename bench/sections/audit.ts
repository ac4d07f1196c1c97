// What the audit log costs (issue 21): the bytes an event takes and the disk a request rate
// fills, and the file sink's CPU per event (chaining, serializing, hashing, write(2)),
// without rotation, with the default rotation, and with one every 256 KiB. The sink is
// the real one (src/audit/sink.ts), in this process, fed a realistic access event (the
// shape src/audit/access-event.ts builds for an authenticated connection read with an Airflow
// context) as the gateway feeds it: 256 events reach write(2) at a time. The hit loads'
// own audit log gives the bytes per event the gateway really wrote (runAuditOfHitGateway).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { DEFAULT_ROTATE, openFileSink, type FileSinkOptions } from '../../src/audit/sink.ts';

export interface AuditResult {
  events: number;
  bytesPerEvent: number;
  /** The same event in the shape written before the leaner events. */
  bytesPerEventBefore: number;
  sinkCpuUsPerEvent: Array<{ rotation: string; us: number }>;
  /** From the hit gateway's own audit log: bytes per line, and lines written. */
  hitGateway?: { bytesPerEvent: number; events: number };
}

const logger = pino({ level: 'silent' });

/** The access event of an authenticated connection read with an Airflow context, as the gateway writes it
 * (the lean shape of src/audit/events.ts: no `kind`, `method` or `route` that the action implies). */
export const sampleAccessEvent = (i: number) => ({
  type: 'access',
  time: new Date(1_764_800_000_000 + i).toISOString(),
  request_id: `0b9f6c1e-3d2a-4c5b-9e8f-${String(i).padStart(12, '0')}`,
  action: 'connections:read',
  client: '10.1.2.3',
  subject: 'system:serviceaccount:airflow:airflow-worker',
  status: 200,
  latency_ms: 0.42,
  decision: 'allow',
  issuer: 'https://kubernetes.default.svc',
  airflow: { verified: true, dag_id: 'etl_daily', task_id: 'load_warehouse', run_id: 'scheduled__2026-12-04T00:00:00+00:00', try_number: '1' },
  outcome: 'found',
  backend: 'vault',
  fingerprint: 'hmac-sha256:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  id: 'warehouse',
});

/** The same event in the shape before the leaner events (issue 21): for the before/after row. */
export const sampleAccessEventBefore = (i: number) => ({
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

async function sinkRun(events: number, rotate: FileSinkOptions['rotate'], make: (i: number) => object = sampleAccessEvent): Promise<{ us: number; bytesPerEvent: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-audit-bench-'));
  try {
    const sink = openFileSink(path.join(dir, 'audit.log'), logger, { rotate });
    const batch = Array.from({ length: events }, (_, i) => make(i));
    const cpu0 = process.cpuUsage();
    for (const e of batch) sink.write(e);
    await sink.close();
    const cpu = process.cpuUsage(cpu0);
    // (With rotation, files beyond `keep` are gone: bytes per event come from the run without it.)
    return { us: (cpu.user + cpu.system) / events, bytesPerEvent: statSync(path.join(dir, 'audit.log')).size / events };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureAuditSink(events: number): Promise<AuditResult> {
  const none = await sinkRun(events, false);
  const before = await sinkRun(events, false, sampleAccessEventBefore);
  const byDefault = await sinkRun(events, { ...DEFAULT_ROTATE });
  const small = await sinkRun(events, { max_bytes: 256 * 1024, keep: 3 });
  return {
    events,
    bytesPerEvent: none.bytesPerEvent,
    bytesPerEventBefore: before.bytesPerEvent,
    sinkCpuUsPerEvent: [
      { rotation: 'none', us: none.us },
      { rotation: `default (${DEFAULT_ROTATE.max_bytes / 1048576} MiB, keep ${DEFAULT_ROTATE.keep})`, us: byDefault.us },
      { rotation: 'every 256 KiB', us: small.us },
    ],
  };
}

/** Bytes per line of the audit log a gateway wrote in `dir` (audit.log and any rotated files). */
export function auditLogOf(dir: string): { bytesPerEvent: number; events: number } {
  const files = readdirSync(dir).filter((f) => /^audit\.log(\.\d+)?$/.test(f));
  let bytes = 0;
  let events = 0;
  for (const f of files) {
    const data = readFileSync(path.join(dir, f));
    bytes += data.length;
    for (const byte of data) if (byte === 10) events++;
  }
  return { bytesPerEvent: events ? bytes / events : 0, events };
}
