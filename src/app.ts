// Builds one gateway from its configuration: backends, chain, routes. Nothing is
// global and nothing listens here, so tests build as many gateways as they like.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { FastifyChildLoggerFactory } from 'fastify/types/logger.js';
import type { Logger } from 'pino';
import { lazyChildLogger } from './logging.ts';
import { BackendChain, chainLink } from './backends/chain.ts';
import { loadBackendFactory } from './backends/registry.ts';
import { SecretCache, backendTtls } from './cache/secret-cache.ts';
import type { GatewayConfig } from './config/schema.ts';
import { countAuthFailure, createMetrics, type GatewayMetrics } from './metrics.ts';
import { componentSchemas } from './openapi.ts';
import { clientErrorHandler, frameworkErrorHandler, registerProblemHandlers } from './problems.ts';
import { registerCacheRoutes } from './routes/cache.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerMetricsRoute, registerRequestMetrics } from './routes/metrics.ts';
import { registerSecretRoutes } from './routes/secrets.ts';
import { registerBackendsRoute } from './routes/backends.ts';
import { registerConnectionTestRoute } from './routes/connections-test.ts';
import { CriticalConnections } from './critical-connections.ts';
import { openAudit, type Audit } from './audit/index.ts';
import { registerAccessControl, registerWithoutAccessControl } from './auth/plugin.ts';
import type { AuthFailureReason } from './auth/reasons.ts';
import { TokenVerifier } from './auth/verify.ts';
import { lazySchemaCompilers } from './lazy-schemas.ts';

export interface GatewayDeps {
  logger: Logger;
  /** The environment the `environment` backend reads; process.env unless a test gives its own. */
  env?: NodeJS.ProcessEnv;
  /** The cache's clock in ms (tests drive their own). */
  now?: () => number;
  /** Called with the reason of every refused authentication or authorization (for a metric). */
  onAuthFailure?: (reason: AuthFailureReason) => void;
  /** Serve /v1 with no tokens and no audit. For benchmarks only: no configuration can reach it. */
  withoutAccessControl?: boolean;
}

export interface Gateway {
  app: FastifyInstance;
  chain: BackendChain;
  /** Every route served (not the 405 guards), as method and URL pattern; the OpenAPI test compares them with the spec. */
  routes: Array<{ method: string; url: string }>;
  /** The critical_connections checks; states() is what the metrics read. */
  criticalConnections: CriticalConnections;
  cache: SecretCache;
  metrics: GatewayMetrics;
  /** Token verification (null only without access control). */
  verifier: TokenVerifier | null;
  audit: Audit | null;
  /** Compiles every route schema now (they compile on first use): tests call it so a broken schema fails them. */
  compileSchemas: () => void;
}

// A caller's X-Request-Id is kept only if it is short and plain, so it cannot forge log lines.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export async function buildChain(config: GatewayConfig, deps: GatewayDeps, metrics?: GatewayMetrics): Promise<BackendChain> {
  const ctx = { baseDir: config.baseDir, env: deps.env ?? process.env, logger: deps.logger };
  const factories = await Promise.all(config.backends.map((entry) => loadBackendFactory(entry.type)));
  const links = config.backends.map((entry, i) => {
    const factory = factories[i];
    if (!factory) throw new Error(`unknown backend type ${entry.type}`); // config validation already refused it
    return chainLink(factory.create(entry, ctx), entry);
  });
  return new BackendChain(links, deps.logger.child({ component: 'chain' }), metrics);
}

export async function buildGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const env = deps.env ?? process.env;
  if (!config.auth && !deps.withoutAccessControl) {
    throw new Error('auth is not configured; `serve` creates a loopback-only dev key, any other caller must configure auth');
  }
  // Keys and the audit log first: a bad key file or an unwritable audit log stops startup before anything else starts.
  const verifier = config.auth && !deps.withoutAccessControl ? new TokenVerifier(config.auth, config.baseDir, env, deps.logger.child({ component: 'auth' })) : null;
  const audit = verifier ? openAudit(config.audit, config.baseDir, env, deps.logger.child({ component: 'audit' })) : null;
  const metrics = createMetrics();
  const chain = await buildChain(config, deps, metrics);
  const cacheLogger = deps.logger.child({ component: 'cache' });
  const cache = new SecretCache({ config: config.cache, chain, backendTtlSeconds: backendTtls(config.backends), metrics, logger: cacheLogger, ...(deps.now ? { now: deps.now } : {}) });
  // The Redis bus (and ioredis, ~70 ms and ~20 MB at startup) is loaded only when configured.
  const bus = config.cache.redis_url
    ? new (await import('./cache/redis-bus.ts')).RedisInvalidationBus({ url: config.cache.redis_url, channel: config.cache.redis_channel, logger: cacheLogger, metrics, apply: (scope) => cache.invalidate(scope, 'pubsub') })
    : undefined;
  const schemas = lazySchemaCompilers();
  const app: FastifyInstance = Fastify({
    schemaController: { compilersFactory: schemas.compilersFactory },
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Fastify's two lines per request are replaced by one onResponse line below.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger as unknown as FastifyChildLoggerFactory,
    bodyLimit: config.server.body_limit_bytes,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: false },
    return503OnClosing: true,
    // Slow clients (server.*_timeout_seconds). Node checks the request and header timeouts every
    // connectionsCheckingInterval (30 s by default, which would stretch them): at most 1 s here.
    requestTimeout: config.server.request_timeout_seconds * 1000,
    keepAliveTimeout: config.server.keep_alive_timeout_seconds * 1000,
    connectionTimeout: config.server.connection_timeout_seconds * 1000,
    http: { headersTimeout: config.server.headers_timeout_seconds * 1000, connectionsCheckingInterval: Math.min(1000, config.server.headers_timeout_seconds * 250) },
    // Errors raised before a route runs (a malformed URL, a timeout, headers too large) are problem documents too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // Unknown query parameters and body keys are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });

  const routes: Gateway['routes'] = [];
  app.addHook('onRoute', (route) => {
    if (route.config?.methodGuard) return;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.decorate('metrics', metrics);
  for (const schema of componentSchemas()) app.addSchema(schema);
  // Bodies are JSON or nothing: anything else is 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);

  // (Callback-style hooks: no promise per request.)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    // One line per request: route pattern (not the URL, which would carry ids and query), status, time.
    // A /v1 request answered below 500 has its audit event, which says all this and more; its line is
    // at debug, so the application log is not a second, unchained copy of the audit log.
    const level = request.access && reply.statusCode < 500 ? 'debug' : 'info';
    if ((request.log as Logger).isLevelEnabled(level)) {
      request.log[level]({ method: request.method, route: request.routeOptions.url ?? '(none)', status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    }
    done();
  });

  if (verifier && audit && config.auth) {
    registerAccessControl(app, { auth: config.auth, verifier, audit, logger: deps.logger, onFailure: (reason) => {
      countAuthFailure(metrics, reason);
      deps.onAuthFailure?.(reason);
    } });
  } else {
    registerWithoutAccessControl(app);
  }
  const checks = config.connection_checks;
  // Connection checks resolve through the cache, like any caller's read.
  const lookupConnection = async (id: string) => (await cache.getConnection(id, { noCache: false })).found;
  const criticalConnections = new CriticalConnections(config.critical_connections, checks, lookupConnection, deps.logger.child({ component: 'critical_connections' }));
  registerRequestMetrics(app, metrics);
  registerSecretRoutes(app, cache);
  registerCacheRoutes(app, cache, bus);
  registerConnectionTestRoute(app, lookupConnection, checks.timeout_seconds * 1000);
  registerBackendsRoute(app, () => chain.statuses());
  registerHealthRoutes(app, {
    backends: () => chain.statuses(),
    criticalConnections: () => ({ impact: criticalConnections.readinessImpact(), critical_connections: criticalConnections.states() }),
    ...(bus ? { invalidation: () => bus.status() } : {}),
  });
  if (config.metrics.enabled && config.metrics.port == null) registerMetricsRoute(app, metrics, config.metrics.path);
  await registerDocsRoutes(app);

  app.addHook('onClose', async () => {
    criticalConnections.stop();
    await bus?.close();
    await chain.close();
    await audit?.sink.close(); // flushes buffered audit events
  });
  await Promise.all([chain.init(), verifier?.init()]);
  bus?.start();
  await criticalConnections.start();
  return { app, chain, routes, criticalConnections, cache, metrics, verifier, audit, compileSchemas: schemas.compileAll };
}
