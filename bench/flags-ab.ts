// Analysis helper: the hit load (GET /v1/connections/{id}, 50 connections) against gateways started with
// different Node flags, alternating, in rounds; prints the server's CPU µs per request of each.
// node bench/flags-ab.ts --rounds 3 -- "" "--max-semi-space-size=2"
import { parseArgs } from 'node:util';
import { hitLoad, startHitGateway } from './sections/throughput.ts';

const { values, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' } }, allowPositionals: true });
const variants = positionals.length ? positionals : [''];
const results = new Map<string, number[]>(variants.map((v) => [v, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const flags of variants) {
    const { gateway, token } = await startHitGateway({ nodeFlags: flags.split(' ').filter(Boolean) });
    try {
      const m = await hitLoad(gateway, token, Number(values.connections), { durationSeconds: 8, warmupSeconds: 2 });
      results.get(flags)!.push(m.serverCpuUsPerRequest);
      console.log(`round ${r + 1} [${flags}] ${m.serverCpuUsPerRequest.toFixed(1)} µs/req, ${Math.round(m.requests / m.seconds)} req/s, p50 / p99 ${m.latencyMs.p50.toFixed(2)} / ${m.latencyMs.p99.toFixed(2)} ms, rss ${(gateway.rssBytes() / 1e6).toFixed(1)} MB`);
    } finally {
      await gateway.stop();
    }
  }
}
for (const [flags, us] of results) console.log(`[${flags}] ${us.map((u) => u.toFixed(1)).join(' / ')} µs/req`);
