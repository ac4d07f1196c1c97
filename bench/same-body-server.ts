// The same-body baseline (issue 20): a bare Fastify route answering `GET /v1/connections/*`
// with the very body and response headers the gateway sent for a cached connection (captured
// by the bench from the running gateway and handed over as a JSON file, the second argument).
// No logger, no hooks, no schema: what the gateway's hit costs above is its own work, not the
// size of its answer. Started the same way as the gateway (same Node, same flags).
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [portArg, answerFile] = process.argv.slice(2);
const { headers, body } = JSON.parse(readFileSync(answerFile!, 'utf8')) as { headers: Record<string, string>; body: string };
const app = Fastify({ logger: false });
app.get('/v1/connections/*', (_request, reply) => {
  reply.headers(headers).send(body);
});
await app.listen({ host: '127.0.0.1', port: Number(portArg) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
