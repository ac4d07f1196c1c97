// Analysis helper: start → first 200 of /readyz (and the RSS at that moment) for gateways from different checkouts, alternating, in
// rounds (the machine is shared: only figures from the same run compare). Each start is timeToReady's
// (bench/sections/memory-start.ts: the bench's config, local_filesystem + environment, auth, audit,
// metrics), plus the process's CPU time from /proc at that moment, which other tenants' load moves far
// less than the wall time. A source start runs as that checkout's `npm start` does (its package.json's
// environment, the image's Node flags); its node_modules must be installed.
//   node bench/start-ab.ts --rounds 8 --entry src /path/to/main-checkout .
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { timeToReady } from './sections/memory-start.ts';

const { values, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '8' }, entry: { type: 'string', default: 'src' } }, allowPositionals: true });
const entry = values.entry === 'dist' ? 'dist' : 'src';
const trees = (positionals.length ? positionals : ['.']).map((t) => resolve(t));

const results = new Map(trees.map((t) => [t, { wall: [] as number[], cpu: [] as number[], rss: [] as number[] }]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const tree of r % 2 ? [...trees].reverse() : trees) {
    const { wallMs, cpuMs, rssMb } = await timeToReady(entry, { tree });
    results.get(tree)!.wall.push(wallMs);
    results.get(tree)!.cpu.push(cpuMs);
    results.get(tree)!.rss.push(rssMb);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [tree, { wall, cpu, rss }] of results) {
  console.log(`${tree} (${entry}): wall median ${Math.round(median(wall))} ms [${wall.map(Math.round).join(' ')}], CPU median ${Math.round(median(cpu))} ms [${cpu.map(Math.round).join(' ')}], RSS at ready median ${median(rss).toFixed(1)} MB [${rss.map((x) => x.toFixed(1)).join(' ')}]`);
}
process.exit(0);
