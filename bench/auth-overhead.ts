// Benchmark (not a test): what access control and the audit log cost on a read
// that is already in memory. The same route (GET /v1/variables/{key}, served by
// the environment backend, no I/O) on two gateways in one run: one with a
// verified JWT (token cache on), policy decision and an audit event per request
// written to a file; one built without access control. Rate limiting is off in
// both (one subject would hit the default per-subject limit).
//
//   node bench/auth-overhead.ts [seconds per round, default 5]
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { buildGateway } from '../src/app.ts';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/logging.ts';
import { mintToken } from '../src/auth/token.ts';

const seconds = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-'));
writeFileSync(path.join(dir, 'key'), randomBytes(32).toString('base64url'));
writeFileSync(
  path.join(dir, 'config.yaml'),
  'log: { level: warn }\nbackends: [{ type: environment }]\n' +
    'auth:\n  rate_limit: false\n  keys: [{ kid: bench, alg: HS256, secret_file: key }]\n' +
    'audit: { file: audit.log, key_file: key }\n',
);
const env = { AIRFLOW_VAR_BENCH_KEY: 'bench-value' };
const { config } = loadConfig({ configPath: path.join(dir, 'config.yaml'), env });
const logger = createLogger({ level: 'warn' });

const withAuth = await buildGateway(config, { logger, env });
const without = await buildGateway(config, { logger, env, withoutAccessControl: true });
const token = mintToken(config.auth!, dir, env, { sub: 'bench', scope: 'variables:read:bench_*', ttlMs: 3_600_000 });
const urls = { auth: await withAuth.app.listen({ host: '127.0.0.1', port: 0 }), none: await without.app.listen({ host: '127.0.0.1', port: 0 }) };

async function run(url: string, headers: Record<string, string>) {
  const result = await autocannon({ url: `${url}/v1/variables/bench_key`, connections: 10, duration: seconds, headers, workers: 1 });
  if (result.non2xx || result.errors) throw new Error(`non-2xx ${result.non2xx}, errors ${result.errors}`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

const rounds: Array<{ auth: { rps: number; p99: number }; none: { rps: number; p99: number } }> = [];
await run(urls.none, {}); // warm-up (JIT), not counted
await run(urls.auth, { authorization: `Bearer ${token}` });
for (let i = 0; i < 2; i++) {
  const none = await run(urls.none, {});
  const auth = await run(urls.auth, { authorization: `Bearer ${token}` });
  rounds.push({ auth, none });
}
await withAuth.app.close();
await without.app.close();

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const authRps = avg(rounds.map((r) => r.auth.rps));
const noneRps = avg(rounds.map((r) => r.none.rps));
console.log(`route: GET /v1/variables/bench_key, 10 connections, ${seconds}s per round, ${rounds.length} rounds each, after warm-up`);
console.log(`without access control: ${noneRps.toFixed(0)} req/s (p99 ${avg(rounds.map((r) => r.none.p99)).toFixed(1)} ms)`);
console.log(`JWT + policy + audit:   ${authRps.toFixed(0)} req/s (p99 ${avg(rounds.map((r) => r.auth.p99)).toFixed(1)} ms)`);
console.log(`ratio: ${(authRps / noneRps).toFixed(2)}; audit log ${statSync(path.join(dir, 'audit.log')).size} bytes`);
