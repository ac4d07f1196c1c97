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
import { openAudit, type Audit } from './audit/index.ts';
import { registerAccessControl, registerWithoutAccessControl } from './auth/plugin.ts';
import type { AuthFailureReason } from './auth/reasons.ts';
import { TokenVerifier } from './auth/verify.ts';

export interface GatewayDeps {
  logger: Logger;
  /** The environment the `environment` backend reads; process.env unless a test gives its own. */
  env?: NodeJS.ProcessEnv;
  /** Called with the reason of every refused authentication or authorization (for a metric). */
  onAuthFailure?: (reason: AuthFailureReason) => void;
  /** Serve /v1 with no tokens and no audit. For benchmarks only: no configuration can reach it. */
  withoutAccessControl?: boolean;
}

export interface Gateway {
  app: FastifyInstance;
  chain: BackendChain;
  /** Token verification (null only without access control). */
  verifier: TokenVerifier | null;
  audit: Audit | null;
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
  const env = deps.env ?? process.env;
  if (!config.auth && !deps.withoutAccessControl) {
    throw new Error('auth is not configured; `serve` creates a loopback-only dev key, any other caller must configure auth');
  }
  // Keys and the audit log first: a bad key file or an unwritable audit log stops startup before anything else starts.
  const verifier = config.auth && !deps.withoutAccessControl ? new TokenVerifier(config.auth, config.baseDir, env, deps.logger.child({ component: 'auth' })) : null;
  const audit = verifier ? openAudit(config.audit, config.baseDir, env, deps.logger.child({ component: 'audit' })) : null;
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

  if (verifier && audit && config.auth) {
    await registerAccessControl(app, { auth: config.auth, verifier, audit, logger: deps.logger, onFailure: deps.onAuthFailure });
  } else {
    registerWithoutAccessControl(app);
  }
  registerSecretRoutes(app, chain);
  registerHealthRoutes(app, () => chain.statuses());
  await registerDocsRoutes(app);

  app.addHook('onClose', async () => {
    await chain.close();
    await audit?.sink.close(); // flushes buffered audit events
  });
  await Promise.all([chain.init(), verifier?.init()]);
  return { app, chain, verifier, audit };
}
