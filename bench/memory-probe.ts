// Analysis helper, not part of the report: the memory section's fill (a real metastore, the built
// gateway with the image's flags, POST /v1/lookup batches) with a reading after each count, taken
// inside the gateway after a full GC (bench/lib/memory-probe-preload.mjs): RSS before and after the
// GC, the V8 heap by space, resident memory by mapping; optionally heap snapshots to diff.
//   node bench/memory-probe.ts --counts 0,10000,100000 [--snap 0,10000] [--flags="--max-semi-space-size=8"]
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTempDir, sleep } from '../test/helpers/servers/common.ts';
import { BENCH_DIR, startGateway } from './lib/processes.ts';
import { fillCache, metastoreGatewayConfig, startMetastore } from './sections/memory-start.ts';

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '0,10000,100000' },
    snap: { type: 'string', default: '' },
    flags: { type: 'string', default: '' },
    out: { type: 'string', default: join(BENCH_DIR, '.tmp', 'memory-probe.jsonl') },
  },
});
const counts = values.counts.split(',').map(Number);
const snapAt = new Set(values.snap ? values.snap.split(',').map(Number) : []);
const out = values.out;
rmSync(out, { force: true });
// The preload appends to it: without its folder (bench/.tmp is not in a fresh checkout) no reading ever came and the probe waited forever.
mkdirSync(dirname(out), { recursive: true });
const most = Math.max(1, ...counts);
const pg = await startMetastore(most);
try {
  const dir = makeTempDir('bench-probe');
  const { config, token } = metastoreGatewayConfig(dir, most);
  const nodeFlags = ['--expose-gc', '--import', join(BENCH_DIR, 'lib', 'memory-probe-preload.mjs'), ...values.flags.split(' ').filter(Boolean)];
  const gateway = await startGateway({ config, dir, entry: 'dist', nodeFlags, env: { AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: pg.url, MEMORY_PROBE_OUT: out } });
  const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean) : []);
  try {
    await sleep(500);
    let filled = 0;
    for (const n of counts) {
      const t0 = performance.now();
      await fillCache(gateway.url, token, filled, n);
      const fillSeconds = (performance.now() - t0) / 1000;
      filled = Math.max(filled, n);
      await sleep(1000);
      if (snapAt.has(n)) writeFileSync(`${out}.snap`, '');
      const before = lines().length;
      process.kill(gateway.pid, 'SIGUSR2');
      while (lines().length === before) await sleep(100);
      console.log(JSON.stringify({ entries: n, fillSeconds: Math.round(fillSeconds * 10) / 10, ...JSON.parse(lines().at(-1)!) }));
    }
  } finally {
    await gateway.stop();
  }
} finally {
  await pg.dispose();
}
