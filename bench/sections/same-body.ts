// The primary hit figures (issue 20): the gateway's cache hit against a bare Fastify route
// serving the same body with the same response headers (bench/same-body-server.ts), both
// started the same way, in the same run, alternated round by round:
// - server CPU per request, from the server's own /proc/<pid>/stat over the measured window
//   (closed loop: `connections` connections, as fast as answers come);
// - latency open loop, at a fixed rate (bench/load-worker.ts's paced sender): p50, p99, p99.9,
//   and the server CPU per request at that rate.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../../test/helpers/servers/common.ts';
import { measureLoad, startBenchServer, type MeasuredLoad, type ServerProcess } from '../lib/processes.ts';
import { HIT_PATHS, type LoadShape } from './throughput.ts';

export interface SameBodyRound {
  baseline: MeasuredLoad;
  gateway: MeasuredLoad;
  baselineOpen: MeasuredLoad;
  gatewayOpen: MeasuredLoad;
}

export interface SameBodyResult {
  connections: number;
  openRate: number;
  openConnections: number;
  /** The response headers both servers send (names), and the body's length. */
  headerNames: string[];
  bodyBytes: number;
  rounds: SameBodyRound[];
}

// Set by Node's HTTP server itself on every answer, or per answer: not part of the captured set.
const NOT_COPIED = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** The headers and body of one cached hit, as the gateway sends them. */
async function captureHit(gateway: ServerProcess, token: string): Promise<{ headers: Record<string, string>; body: string }> {
  const res = await fetch(`${gateway.url}${HIT_PATHS[0]}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`the gateway answered ${res.status} to a hit`);
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!NOT_COPIED.has(name)) headers[name] = value;
  });
  return { headers, body };
}

export async function measureSameBody(
  gateway: ServerProcess,
  token: string,
  options: { rounds: number; connections: number; openRate: number; openConnections: number; shape: LoadShape },
): Promise<SameBodyResult> {
  const answer = await captureHit(gateway, token);
  const dir = makeTempDir('bench-same-body');
  const answerFile = join(dir, 'answer.json');
  writeFileSync(answerFile, JSON.stringify(answer));
  const baseline = await startBenchServer('same-body', 'same-body-server.ts', HIT_PATHS[0]!, { args: [answerFile] });
  const headers = { authorization: `Bearer ${token}` };
  const closed = (s: ServerProcess) => measureLoad(s, { url: `${s.url}${HIT_PATHS[0]}`, paths: HIT_PATHS, headers, connections: options.connections, ...options.shape });
  const open = (s: ServerProcess) =>
    measureLoad(s, { url: `${s.url}${HIT_PATHS[0]}`, paths: HIT_PATHS, headers, connections: options.openConnections, overallRate: options.openRate, ...options.shape });
  const rounds: SameBodyRound[] = [];
  try {
    for (let i = 0; i < options.rounds; i++) {
      // Which server goes first alternates too, so a drift in the machine's load favours neither.
      const first = i % 2 === 0;
      const b1 = first ? await closed(baseline) : undefined;
      const g = await closed(gateway);
      const b = b1 ?? (await closed(baseline));
      const bo1 = first ? await open(baseline) : undefined;
      const go = await open(gateway);
      const bo = bo1 ?? (await open(baseline));
      rounds.push({ baseline: b, gateway: g, baselineOpen: bo, gatewayOpen: go });
    }
  } finally {
    await baseline.stop();
  }
  return {
    connections: options.connections,
    openRate: options.openRate,
    openConnections: options.openConnections,
    headerNames: Object.keys(answer.headers),
    bodyBytes: Buffer.byteLength(answer.body),
    rounds,
  };
}
