// Preloaded into a gateway by bench/memory-probe.ts (with --expose-gc), for analysis only. On SIGUSR2:
// a full GC, then one JSON line appended to $MEMORY_PROBE_OUT with the RSS before and after it, the V8
// heap by space, and the resident memory by mapping kind (/proc/self/smaps); with $MEMORY_PROBE_OUT.snap
// present, a heap snapshot is written too (and the marker removed).
import { appendFileSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import v8 from 'node:v8';

const out = process.env.MEMORY_PROBE_OUT;
const mb = (bytes) => Math.round(bytes / 1e5) / 10;

/** Resident MB by mapping: the node binary, V8's 256 KB pages, glibc's heap, other anonymous memory, other files. */
function residentByMapping() {
  const sums = {};
  let kind = null;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[3];
      const pages = parseInt(m[2], 16) - parseInt(m[1], 16) === 262144;
      kind = name.endsWith('/node') ? 'node binary' : name === '[heap]' ? 'glibc heap' : name === '' ? (pages ? 'V8-sized pages' : 'other anonymous') : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind) sums[kind] = (sums[kind] ?? 0) + Number(rss[1]) * 1024;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, mb(v)]));
}

process.on('SIGUSR2', () => {
  const rssBeforeGc = process.memoryUsage().rss;
  globalThis.gc();
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().filter((s) => s.space_size > 0).map((s) => [s.space_name, [mb(s.space_size), mb(s.space_used_size)]]));
  let snapshot;
  if (existsSync(`${out}.snap`)) {
    unlinkSync(`${out}.snap`);
    snapshot = v8.writeHeapSnapshot(`${out}.${Date.now()}.heapsnapshot`);
  }
  appendFileSync(out, `${JSON.stringify({ rssBeforeGcMB: mb(rssBeforeGc), rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), heapTotalMB: mb(m.heapTotal), externalMB: mb(m.external), spacesMB_sizeUsed: spaces, residentMB: residentByMapping(), snapshot })}\n`);
});
