// Builds one gateway from its configuration: backends, chain, routes. Nothing is
// global and nothing listens here, so tests build as many gateways as they like.
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { FastifyChildLoggerFactory } from 'fastify/types/logger.js';
import type { Logger } from 'pino';
import { lazyChildLogger } from './logging.ts';
import { BackendChain, chainLink } from './backends/chain.ts';
import { loadBackendFactory } from './backends/registry.ts';
import { SecretCache, backendTtls } from './cache/secret-cache.ts';
import type { GatewayConfig } from './config/schema.ts';
import { countAuthFailure, createMetrics, registerAuditSinkMetrics, type GatewayMetrics } from './metrics.ts';
import { componentSchemas } from './http/openapi.ts';
import { clientErrorHandler, frameworkErrorHandler, registerProblemHandlers } from './http/problems.ts';
import { registerCacheRoutes } from './routes/cache.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerSecretRoutes } from './routes/secrets.ts';
import { registerSuffixConstraint, registerWriteRoutes } from './routes/writes.ts';
import { isWriter } from './backends/types.ts';
import { registerBackendsRoute } from './routes/backends.ts';
import { registerConnectionTestRoute } from './routes/connections-test.ts';
import { CriticalConnections } from './connection-checks/critical.ts';
import { openAudit, type Audit } from './audit/index.ts';
import { registerPipeline } from './pipeline.ts';
import { newRequestId } from './http/request-id.ts';
import type { RoutePermission } from './auth/permissions.ts';
import type { AuthFailureReason } from './auth/reasons.ts';
import { TokenVerifier } from './auth/verify.ts';
import { ClientCertificates } from './auth/client-cert.ts';
import { lazySchemaCompilers } from './http/lazy-schemas.ts';

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
  /** Serve HTTPS with these options (server.tls: src/http/tls.ts makes them; `serve` passes them). */
  https?: HttpsServerOptions;
  /** Whether the process is draining (`serve`'s SIGTERM, src/http/drain.ts): /readyz then answers 503. */
  draining?: () => boolean;
}

export interface Gateway {
  app: FastifyInstance;
  chain: BackendChain;
  /** Every route served (not the 405 guards): method, URL pattern, declared permission and body schema. The
   * OpenAPI test compares them with the spec; the fail-closed test tries each /v1 route without a grant. */
  routes: Array<{ method: string; url: string; permission: RoutePermission | undefined; body: unknown }>;
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
    return chainLink(factory(entry, ctx), entry);
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
  const metrics = createMetrics();
  const auditMetrics = verifier ? registerAuditSinkMetrics(metrics) : null;
  const audit = verifier ? openAudit(config.audit, config.baseDir, env, deps.logger.child({ component: 'audit' }), auditMetrics?.observer) : null;
  if (audit) auditMetrics?.watch(() => audit.sink.healthy);
  const chain = await buildChain(config, deps, metrics);
  const cacheLogger = deps.logger.child({ component: 'cache' });
  const cache = new SecretCache({ config: config.cache, chain, backendTtlSeconds: backendTtls(config.backends), metrics, logger: cacheLogger, ...(deps.now ? { now: deps.now } : {}) });
  // The Redis bus (and ioredis, with its cost at startup: see bench/optimization-log.md, "Figures quoted in code comments")
  // is loaded only when configured.
  const bus = config.cache.redis_url
    ? new (await import('./cache/redis-bus.ts')).RedisInvalidationBus({ url: config.cache.redis_url, channel: config.cache.redis_channel, logger: cacheLogger, metrics, apply: (scope) => cache.invalidate(scope, 'pubsub') })
    : undefined;
  const schemas = lazySchemaCompilers();
  // Node's own server options, for http and https alike. It checks the request and header timeouts every
  // connectionsCheckingInterval (30 s by default, which would stretch them): at most 1 s here.
  const nodeServerOptions = { headersTimeout: config.server.headers_timeout_seconds * 1000, connectionsCheckingInterval: Math.min(1000, config.server.headers_timeout_seconds * 250) };
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
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : newRequestId();
    },
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: false },
    return503OnClosing: true,
    // Slow clients (server.*_timeout_seconds).
    requestTimeout: config.server.request_timeout_seconds * 1000,
    keepAliveTimeout: config.server.keep_alive_timeout_seconds * 1000,
    connectionTimeout: config.server.connection_timeout_seconds * 1000,
    http: nodeServerOptions,
    // Errors raised before a route runs (a malformed URL, a timeout, headers too large) are problem documents too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // Unknown query parameters and body keys are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // HTTPS: the server type changes, the app's API does not.
    ...((deps.https ? { https: { ...deps.https, ...nodeServerOptions } } : {}) as object),
  });

  const routes: Gateway['routes'] = [];
  app.addHook('onRoute', (route) => {
    if (route.config?.methodGuard) return;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, permission: route.config?.permission, body: route.schema?.body });
  });
  app.decorate('metrics', metrics);
  app.decorate('reopenAuditLog', () => {
    deps.logger.info('SIGHUP: reopening the audit log');
    audit?.sink.reopen();
  });
  for (const schema of componentSchemas()) app.addSchema(schema);
  // Bodies are JSON or nothing: anything else is 415, not a string handed to validation.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);

  // The request pipeline (src/pipeline.ts): request id → authenticate → rate limit → authorize →
  // handler → audit → metrics, for every /v1 route registered below.
  registerPipeline(app, {
    access: verifier && audit && config.auth ? { auth: config.auth, verifier, audit } : null,
    metrics,
    logger: deps.logger,
    onAuthFailure: (reason) => {
      countAuthFailure(metrics, reason);
      deps.onAuthFailure?.(reason);
    },
    clientCertificates: config.server.tls && config.server.tls.client_auth !== 'none' && config.auth ? new ClientCertificates(config.server.tls, config.auth.policies) : undefined,
  });
  const checks = config.connection_checks;
  // Connection checks resolve through the cache, like any caller's read, and need the fields: unpacked here.
  const lookupConnection = async (id: string) => {
    const { found } = await cache.resolve('connection', id);
    return found && { ...found, value: found.value.connection() };
  };
  const criticalConnections = new CriticalConnections(config.critical_connections, checks, lookupConnection, deps.logger.child({ component: 'critical_connections' }));
  registerSecretRoutes(app, cache);
  // The write API: writes.target (checked at load to say writable: true) must be a backend type that stores.
  const targetName = config.writes?.target ?? undefined;
  const target = targetName ? chain.links.find((l) => l.backend.name === targetName)?.backend : undefined;
  const writer = target && isWriter(target) ? target : undefined;
  if (target && !writer) throw new Error(`writes.target: backend "${targetName}" (${target.type}) cannot be written yet`);
  chain.writeTarget = writer?.name;
  registerSuffixConstraint(app);
  registerWriteRoutes(app, { chain, cache, bus, target: writer, metrics });
  registerCacheRoutes(app, cache, bus);
  registerConnectionTestRoute(app, lookupConnection, checks.timeout_seconds * 1000);
  registerBackendsRoute(app, () => chain.statuses());
  registerHealthRoutes(app, {
    backends: () => chain.statuses(),
    criticalConnections: () => ({ impact: criticalConnections.readinessImpact(), critical_connections: criticalConnections.states() }),
    ...(bus ? { invalidation: () => bus.status() } : {}),
    ...(audit ? { audit: () => ({ ...audit.sink.status(), on_failure: audit.failClosed ? 'refuse' : 'serve' }) } : {}),
    ...(deps.draining ? { draining: deps.draining } : {}),
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
