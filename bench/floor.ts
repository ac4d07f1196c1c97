// `node bench/floor.ts [rounds]`: the baseline, then each level of bench/floor-server.ts, then the
// gateway, at 50 connections, alternating, in one run; req/s as a ratio to the baseline, and the
// server's CPU per request. It shows how much of the hit-throughput target (≥ 85 % of the
// baseline) a route that does a fraction of the gateway's work already uses up on this machine.
import { join } from 'node:path';
import { startBaseline, startBenchServer, type ServerProcess } from './lib/processes.ts';
import { baselineLoad, hitLoad, startHitGateway } from './sections/throughput.ts';

const rounds = Number(process.argv[2] ?? 2);
const shape = { durationSeconds: 5, warmupSeconds: 2 };
// 'jwt' is the reference point (a cached fast-jwt verifier), beside the levels, not above them.
const LEVELS = ['route', 'headers', 'audit', 'jwt'] as const;

/** A level of bench/floor-server.ts; ready when it answers the hit load's request (the jwt level verifies its token). */
function startLevel(level: string, jwtKeyFile: string, token: string): Promise<ServerProcess> {
  return startBenchServer(level, 'floor-server.ts', '/v1/connections/bench_conn_0', { args: [level, jwtKeyFile], headers: { authorization: `Bearer ${token}` } });
}

const baseline = await startBaseline();
const { gateway, token } = await startHitGateway();
const levels = await Promise.all(LEVELS.map((level) => startLevel(level, join(gateway.dir, 'jwt-key'), token)));
try {
  for (let r = 0; r < rounds; r++) {
    const b = await baselineLoad(baseline, 50, shape);
    const row = [`round ${r + 1}: baseline ${b.rps.toFixed(0)} req/s, ${b.serverCpuUsPerRequest.toFixed(1)} µs CPU/request`];
    for (const server of [...levels, gateway]) {
      const m = await hitLoad(server, token, 50, shape);
      row.push(`${server.name}: ${((100 * m.rps) / b.rps).toFixed(1)} % (${m.serverCpuUsPerRequest.toFixed(1)} µs, p99 ${(m.latencyMs.p99 / b.latencyMs.p99).toFixed(2)}×)`);
    }
    console.log(row.join(' | '));
  }
} finally {
  await Promise.all([baseline.stop(), gateway.stop(), ...levels.map((l) => l.stop())]);
}
process.exit(0);
