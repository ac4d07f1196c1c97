// The baseline every timing is compared with: a bare Fastify route returning a small
// JSON object, on the same Node, started the same way as the gateway. No logger, no
// hooks, no schema: the most a Fastify process on this machine can answer.
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
