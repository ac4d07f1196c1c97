// Builds one gateway from its configuration: backends, chain, routes. Nothing is
// global and nothing listens here, so tests build as many gateways as they like.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { BackendChain, chainLink } from './backends/chain.ts';
import { backendFactory } from './backends/registry.ts';
import type { GatewayConfig } from './config/schema.ts';
import { componentSchemas } from './openapi.ts';
import { registerProblemHandlers } from './problems.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerSecretRoutes } from './routes/secrets.ts';
import { registerBackendsRoute } from './routes/backends.ts';
import { registerConnectionTestRoute } from './routes/connections-test.ts';
import { CriticalConnections } from './critical-connections.ts';

export interface GatewayDeps {
  logger: Logger;
  /** The environment the `environment` backend reads; process.env unless a test gives its own. */
  env?: NodeJS.ProcessEnv;
}

export interface Gateway {
  app: FastifyInstance;
  chain: BackendChain;
  /** Every route served (not the 405 guards), as method and URL pattern; the OpenAPI test compares them with the spec. */
  routes: Array<{ method: string; url: string }>;
  /** The critical_connections checks; states() is what the metrics read. */
  criticalConnections: CriticalConnections;
}

// A caller's X-Request-Id is kept only if it is short and plain, so it cannot forge log lines.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function buildChain(config: GatewayConfig, deps: GatewayDeps): BackendChain {
  const ctx = { baseDir: config.baseDir, env: deps.env ?? process.env, logger: deps.logger };
  const links = config.backends.map((entry) => {
    const factory = backendFactory(entry.type);
    if (!factory) throw new Error(`unknown backend type ${entry.type}`); // config validation already refused it
    return chainLink(factory.create(entry, ctx), entry);
  });
  return new BackendChain(links, deps.logger.child({ component: 'chain' }));
}

export async function buildGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const chain = buildChain(config, deps);
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Fastify's two lines per request are replaced by one onResponse line below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.body_limit_bytes,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: false },
    return503OnClosing: true,
    // Unknown query parameters and body keys are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });

  const routes: Gateway['routes'] = [];
  app.addHook('onRoute', (route) => {
    if (route.config?.methodGuard) return;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  for (const schema of componentSchemas()) app.addSchema(schema);
  // Bodies are JSON or nothing: anything else is 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    // One line per request: route pattern (not the URL, which would carry ids and query), status, time.
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? '(none)', status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 },
      'request',
    );
  });

  const checks = config.connection_checks;
  const criticalConnections = new CriticalConnections(config.critical_connections, checks, (id) => chain.getConnection(id), deps.logger.child({ component: 'critical_connections' }));
  registerSecretRoutes(app, chain);
  registerConnectionTestRoute(app, chain, checks.timeout_seconds * 1000);
  registerBackendsRoute(app, () => chain.statuses());
  registerHealthRoutes(app, () => chain.statuses(), () => ({ impact: criticalConnections.readinessImpact(), critical_connections: criticalConnections.states() }));
  await registerDocsRoutes(app);

  app.addHook('onClose', async () => {
    criticalConnections.stop();
    await chain.close();
  });
  await chain.init();
  await criticalConnections.start();
  return { app, chain, routes, criticalConnections };
}
