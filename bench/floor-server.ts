// Servers between the baseline and the gateway, for `node bench/floor.ts`: how close to the bare
// route can a route that does only part of the gateway's work get on this machine? Each level adds
// one thing to the one before:
//   route    the gateway's route shape: a wildcard parameter, an onRequest hook looking a bearer
//            token up in a Map, the 211-byte connection JSON text as the answer
//   headers  + the gateway's 10 extra response headers (request id, rate limit, Age, X-Cache,
//            X-Secret-Version, Cache-Control, X-Secret-Source)
//   audit    + an audit event per request, chained (SHA-256) and serialized every 5 ms in one loop
//            and appended to a file with one write: the gateway's audit sink, stripped to its core
// and, beside them, the issue's own reference point:
//   jwt      the route shape with the token verified by fast-jwt (HS256, its cache on) in the hook
//            instead of the token map: "behind a cached fast-jwt verifier about three quarters"
//            (the key file is the fourth argument)
import { hash, randomUUID } from 'node:crypto';
import { openSync, readFileSync, writeSync } from 'node:fs';
import { createVerifier } from 'fast-jwt';
import Fastify from 'fastify';

const [portArg, level, jwtKeyFile] = process.argv.slice(2);
const port = Number(portArg);
const app = Fastify({ logger: false });
const BODY =
  '{"conn_id": "bench_conn_0", "conn_type": "postgres", "description": null, "host": "db-0.data.internal", "login": "airflow_reader", "password": "not-a-real-password-0", "schema": "warehouse", "port": 5432, "extra": null}';
const principals = new Map<string | undefined, { sub: string }>();
const withHeaders = level === 'headers' || level === 'audit';
const withAudit = level === 'audit';

const auditFd = withAudit ? openSync(`floor-audit-${process.pid}.log`, 'a') : -1;
let pending: object[] = [];
let timer: NodeJS.Timeout | undefined;
let prev = '0'.repeat(64);
function flush(): void {
  timer = undefined;
  let chunk = '';
  for (const event of pending) {
    const body = JSON.stringify({ ...event, prev });
    prev = hash('sha256', body, 'hex');
    chunk += `${body.slice(0, -1)},"hash":"${prev}"}\n`;
  }
  pending = [];
  writeSync(auditFd, chunk);
}

const verifyJwt =
  level === 'jwt' ? createVerifier({ key: readFileSync(jwtKeyFile!, 'utf8').replace(/\r?\n$/, ''), algorithms: ['HS256'], cache: true }) : undefined;

app.addHook('onRequest', (request, reply, done) => {
  const token = request.headers.authorization;
  if (verifyJwt) {
    try {
      (request as unknown as { principal: { sub: string } }).principal = verifyJwt(token?.slice('Bearer '.length) ?? '') as { sub: string };
    } catch {
      reply.code(401).send();
      return;
    }
    done();
    return;
  }
  let principal = principals.get(token);
  if (!principal) principals.set(token, (principal = { sub: 'bench-worker' }));
  (request as unknown as { principal: { sub: string } }).principal = principal;
  done();
});
app.get('/v1/connections/*', (request, reply) => {
  const id = (request.params as { '*': string })['*'];
  if (withHeaders) {
    reply
      .header('x-request-id', randomUUID())
      .header('x-ratelimit-limit', '1000000000')
      .header('x-ratelimit-remaining', '999999999')
      .header('x-ratelimit-reset', '1')
      .header('age', '0')
      .header('x-cache', 'hit')
      .header('x-secret-version', 'HAz4xZWxUETM1BwwYvP3Uw')
      .header('cache-control', 'no-store')
      .header('x-secret-source', 'local_filesystem');
  }
  if (withAudit) {
    const { sub } = (request as unknown as { principal: { sub: string } }).principal;
    pending.push({ type: 'access', time: new Date().toISOString(), request_id: request.id, route: '/v1/connections/*', subject: sub, id, decision: 'allow', outcome: 'found', status: 200 });
    timer ??= setTimeout(flush, 5);
  }
  reply.type('application/json; charset=utf-8').send(BODY);
});
await app.listen({ host: '127.0.0.1', port });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
