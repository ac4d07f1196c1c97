// The floor under the gateway's RSS at ready: a bare Fastify app (the gateway's framework, same
// binary and flags) with one route, listening, and nothing else. Fastify loads node:https and
// node:http2 at require time (lib/server.js), which a bare node:http server does not.
// Plain JavaScript, so that Node's TypeScript stripper is not part of the floor.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', () => 'ok');
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2]) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
