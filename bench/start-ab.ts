// Analysis helper: start → first 200 of /readyz for gateways from different checkouts, alternating, in
// rounds (the machine is shared: only figures from the same run compare). Each start is measureStart's
// (bench/sections/memory-start.ts: the bench's config, local_filesystem + environment, auth, audit,
// metrics), plus the process's CPU time from /proc at that moment, which other tenants' load moves far
// less than the wall time. A source start runs as that checkout's `npm start` does (its package.json's
// environment, the image's Node flags); its node_modules must be installed.
//   node bench/start-ab.ts --rounds 8 --entry src /path/to/main-checkout .
import { copyFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchGatewayConfig } from './lib/gateway-config.ts';
import { imageNodeFlags, npmStartEnv } from './lib/node-flags.ts';
import { NODE, REPO_DIR, cpuSecondsOf } from './lib/processes.ts';
import { LOOPBACK, freePort, makeTempDir, probeFetch, spawnManaged } from '../test/helpers/servers/common.ts';
import { stringify } from 'yaml';

const { values, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '8' }, entry: { type: 'string', default: 'src' } }, allowPositionals: true });
const entry = values.entry === 'dist' ? 'dist' : 'src';
const trees = (positionals.length ? positionals : ['.']).map((t) => resolve(t));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startOnce(tree: string): Promise<{ wallMs: number; cpuMs: number }> {
  const dir = makeTempDir('bench-start-ab');
  for (const f of ['connections.yaml', 'variables.yaml']) copyFileSync(join(REPO_DIR, 'secrets', f), join(dir, f));
  const { config } = benchGatewayConfig({ dir, backends: [{ type: 'local_filesystem', connections_file_path: 'connections.yaml', variables_file_path: 'variables.yaml' }, { type: 'environment' }] });
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify({ ...config, server: { host: LOOPBACK, port } }));
  const spawnedAt = performance.now();
  const proc = spawnManaged(NODE, [...imageNodeFlags(), join(tree, entry === 'src' ? 'src/main.ts' : 'dist/main.js'), 'serve', '--config', configPath], {
    cwd: dir,
    logFile: join(dir, 'gateway.log'),
    env: entry === 'src' ? npmStartEnv(tree) : {},
  });
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && proc.isRunning()) {
      try {
        const res = await probeFetch(`http://${LOOPBACK}:${port}/readyz`, {}, 1000);
        await res.arrayBuffer();
        if (res.status === 200) return { wallMs: performance.now() - spawnedAt, cpuMs: cpuSecondsOf(proc.child.pid!) * 1000 };
      } catch {
        await sleep(2);
      }
    }
    throw new Error(`${tree}: not ready within 30 s; log in ${proc.logFile}`);
  } finally {
    await proc.stop(5000);
  }
}

const results = new Map(trees.map((t) => [t, { wall: [] as number[], cpu: [] as number[] }]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const tree of r % 2 ? [...trees].reverse() : trees) {
    const { wallMs, cpuMs } = await startOnce(tree);
    results.get(tree)!.wall.push(wallMs);
    results.get(tree)!.cpu.push(cpuMs);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [tree, { wall, cpu }] of results) {
  console.log(`${tree} (${entry}): wall median ${Math.round(median(wall))} ms [${wall.map(Math.round).join(' ')}], CPU median ${Math.round(median(cpu))} ms [${cpu.map(Math.round).join(' ')}]`);
}
process.exit(0);
