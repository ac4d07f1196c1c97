// /openapi.json and the human docs at /docs (Swagger UI, served from the npm
// package: no CDN), both from openapi.yaml.
//
// @fastify/swagger-ui is loaded on the first /docs request, not at start: it loads its own
// `yaml` and `@fastify/static` and stays outside the bundle (it serves files from its package
// directory), a share of the time to ready (see bench/optimization-log.md, "Figures quoted in code comments"),
// for pages a replica rarely serves. Fastify takes no
// routes once it listens, so the Swagger UI plugin runs in a small Fastify instance of its own,
// built on first use; the gateway's /docs routes hand each request to it (`inject`, in
// process) and send its answer as their own, through the gateway's hooks like any reply.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { openApiDocument } from '../http/openapi.ts';
import { guardMethods } from './method-guard.ts';

const DOCS_PREFIX = '/docs';

/** Headers of the Swagger UI instance's answer the gateway's reply sets itself (or must not copy). */
const NOT_COPIED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

async function registerSpec(app: FastifyInstance): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: openApiDocument() as never } });
}

async function buildSwaggerUi(): Promise<FastifyInstance> {
  const { default: swaggerUi } = await import('@fastify/swagger-ui');
  const ui = Fastify({ logger: false });
  await registerSpec(ui);
  await ui.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true });
  await ui.ready();
  return ui;
}

export async function registerDocsRoutes(app: FastifyInstance): Promise<void> {
  await registerSpec(app);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  guardMethods(app, '/openapi.json', ['GET']);

  let swaggerUi: Promise<FastifyInstance> | undefined;
  app.addHook('onClose', async () => {
    if (swaggerUi) await (await swaggerUi.catch(() => undefined))?.close();
  });
  const serveDocs = async (request: FastifyRequest, reply: FastifyReply) => {
    swaggerUi ??= buildSwaggerUi().catch((err: unknown) => {
      swaggerUi = undefined; // the next request tries again
      throw err;
    });
    const ui = await swaggerUi;
    // HEAD is Fastify's own HEAD route for this GET: it sends the headers of the GET's answer.
    const answer = await ui.inject({ method: 'GET', url: request.url, headers: request.headers });
    if (answer.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !NOT_COPIED.has(name)) reply.header(name, value);
    }
    // No body (a redirect, a 304): none sent, so none gets a content type.
    return reply.code(answer.statusCode).send(answer.rawPayload.length > 0 ? answer.rawPayload : undefined);
  };
  app.get(DOCS_PREFIX, { schema: { hide: true } }, serveDocs);
  app.get(`${DOCS_PREFIX}/*`, { schema: { hide: true } }, serveDocs);
  guardMethods(app, DOCS_PREFIX, ['GET']);
  guardMethods(app, `${DOCS_PREFIX}/*`, ['GET']);
}
