// Benchmark (not a test): the audit log on its own (bench/sections/audit.ts), printed.
// `npm run bench` reports the same figures, beside the hit path's.
//   node bench/audit-sink.ts [events]
import { DEFAULT_ROTATE } from '../src/audit/sink.ts';
import { measureAuditSink } from './sections/audit.ts';

const result = await measureAuditSink(Number(process.argv[2] ?? 200_000));
console.log(`${result.bytesPerEvent.toFixed(0)} bytes per event (${result.events} events)`);
for (const r of result.sinkCpuUsPerEvent) console.log(`sink CPU per event, rotation ${r.rotation}: ${r.us.toFixed(2)} µs`);
const total = DEFAULT_ROTATE.max_bytes * (DEFAULT_ROTATE.keep + 1);
for (const rps of [100, 1000, 3000]) {
  const perSecond = result.bytesPerEvent * rps;
  console.log(`at ${rps} req/s: ${((perSecond * 86400) / 1e9).toFixed(1)} GB/day (one event per request); the default rotation keeps ${(total / perSecond / 3600).toFixed(1)} h`);
}
