// Analysis helper: the hit's server CPU per request (measured window, /proc) of gateways from different
// checkouts, and of the same-body bare route (captured from the first), all running at once and loaded in
// turn, round after round (the order alternates). A checkout's node_modules must be installed (a link to
// this one's will do). With --rate, open loop at that rate instead (and its p99).
//   node bench/hit-ab.ts --rounds 5 /tmp/before .
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTempDir } from '../test/helpers/servers/common.ts';
import { measureLoad, startBenchServer, type ServerProcess } from './lib/processes.ts';
import { HIT_PATHS, startHitGateway } from './sections/throughput.ts';

const { values, positionals } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, seconds: { type: 'string', default: '6' }, rate: { type: 'string' } },
  allowPositionals: true,
});
const trees = (positionals.length ? positionals : ['.']).map((t) => resolve(t));
const servers: Array<{ name: string; server: ServerProcess; token: string }> = [];
try {
  for (const tree of trees) {
    const started = await startHitGateway({ tree });
    servers.push({ name: tree, server: started.gateway, token: started.token });
  }
  const token = servers[0]!.token;
  const res = await fetch(`${servers[0]!.server.url}${HIT_PATHS[0]}`, { headers: { authorization: `Bearer ${token}` } });
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (!['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'].includes(k)) headers[k] = v;
  });
  const answerFile = join(makeTempDir('bench-hit-ab'), 'answer.json');
  writeFileSync(answerFile, JSON.stringify({ headers, body: await res.text() }));
  servers.push({ name: 'same-body bare route', server: await startBenchServer('same-body', 'same-body-server.ts', HIT_PATHS[0]!, { args: [answerFile] }), token });

  const results = new Map(servers.map((s) => [s.name, [] as string[]]));
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const { name, server, token } of r % 2 ? [...servers].reverse() : servers) {
      const m = await measureLoad(server, {
        url: `${server.url}${HIT_PATHS[0]}`,
        paths: HIT_PATHS,
        headers: { authorization: `Bearer ${token}` },
        connections: Number(values.connections),
        durationSeconds: Number(values.seconds),
        warmupSeconds: 1,
        ...(values.rate ? { overallRate: Number(values.rate) } : {}),
      });
      const line = `${m.serverCpuUsPerMeasuredRequest.toFixed(1)} µs (${Math.round(m.rps)}/s, p99 ${Number(m.latencyMs.p99).toFixed(2)} ms, ${m.ok}/${m.requests} 2xx)`;
      results.get(name)!.push(line);
      console.log(`round ${r + 1} ${name}: ${line}`);
    }
  }
  for (const [name, lines] of results) console.log(`${name}: ${lines.join(' | ')}`);
} finally {
  for (const s of servers) await s.server.stop();
}
process.exit(0);
