// The request pipeline, in the order every /v1 request goes through it:
//
//   request id → authenticate → rate limit → authorize → handler → audit → metrics
//
// Fastify runs hooks by phase, not by registration order, so the order is made explicit here:
// each /v1 route gets, as hooks of its own and in this order,
//   onRequest   authenticate (auth/authenticate.ts), rate limit and authorize by the path or a
//               plain grant (auth/enforce.ts): no body is parsed for a caller who may not ask;
//   preHandler  authorize each item the body names, then the fail-closed guard: a request that no
//               decision allowed never reaches its handler (undeclared_decision);
//   onResponse  the audit events (audit/access-event.ts), then the request metrics.
// Deny by default is here, not in the handlers: a route added later gets all of it from its
// declared permission (auth/permissions.ts), and one that declares none is refused.
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { recordInvalidation, recordOutcome, recordWrite, writeAccessEvents, type ItemResult } from './audit/access-event.ts';
import type { Audit } from './audit/index.ts';
import { authenticate } from './auth/authenticate.ts';
import type { ClientCertificates } from './auth/client-cert.ts';
import type { AuthConfig } from './auth/config.ts';
import { BEARER_REALM, Enforcer, pathId, servesPath } from './auth/enforce.ts';
import type { RoutePermission } from './auth/permissions.ts';
import { AuthenticationError, type AuthFailureReason } from './auth/reasons.ts';
import { addRouteHook } from './auth/route-hooks.ts';
import type { Principal, TokenVerifier } from './auth/verify.ts';
import { problem } from './errors.ts';
import type { GatewayMetrics } from './metrics.ts';
import { requestMetricsHook } from './routes/metrics.ts';
import { isPlainAction, isScopedAction, type Action, type SecretKind } from './secrets.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** For routes whose permission names its ids in the body: was this item allowed? (Decided before
     * the handler ran; an item that was not decided is refused.) */
    authorize(action: Action, id: string): boolean;
    /** Reports what happened to one secret the route looked up (for the audit event). */
    recordOutcome(kind: SecretKind, id: string, result: ItemResult): void;
    /** Reports what an invalidation dropped and whether it reached the other replicas (for the audit event). */
    recordInvalidation(invalidated: number, fanout: string): void;
  }
}

export interface AccessControl {
  auth: AuthConfig;
  verifier: TokenVerifier;
  audit: Audit;
}

export interface PipelineOptions {
  /** null: no tokens and no audit (benchmarks only; no configuration reaches it). */
  access: AccessControl | null;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Called with the reason of every refused authentication or authorization. */
  onAuthFailure: (reason: AuthFailureReason) => void;
  /** Verified TLS client certificates as identity (server.tls with client_auth request or require). */
  clientCertificates?: ClientCertificates | undefined;
}

export function registerPipeline(app: FastifyInstance, options: PipelineOptions): void {
  const { access, metrics } = options;

  // Step "request id": genReqId (app.ts) keeps a caller's plain X-Request-Id or makes one; every response names it.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    // One line per request: route pattern (not the URL, which would carry ids and query), status, time.
    // A /v1 request answered below 500 has its audit event, which says all this and more; its line is
    // at debug, so the application log is not a second, unchained copy of the audit log.
    const level = request.access && reply.statusCode < 500 ? 'debug' : 'info';
    if ((request.log as Partial<Logger>).isLevelEnabled?.(level)) {
      request.log[level]({ method: request.method, route: request.routeOptions.url ?? '(none)', status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
    }
    done();
  });

  app.decorateRequest('access', null);
  if (!access) {
    // Benchmarks only: every item allowed, nothing recorded.
    app.decorateRequest('authorize', () => true);
    app.decorateRequest('recordOutcome', () => {});
    app.decorateRequest('recordInvalidation', () => {});
    app.decorateRequest('recordWrite', () => {});
    app.addHook('onRoute', (route) => {
      const hook = requestMetricsHook(route.config?.permission, metrics);
      if (hook && route.url.startsWith('/v1/')) addRouteHook(route, 'onResponse', hook);
    });
    return;
  }

  const { auth, verifier, audit } = access;
  app.register(fastifyJwt, verifier.pluginOptions()); // verifies tokens the cache has not seen (auth/verify.ts)
  const { clientCertificates } = options;
  if (!auth.enforce) {
    options.logger.warn('auth.enforce is false: DRY RUN. Requests that policy denies are SERVED and audited as would_deny. Do not leave this on.');
  }
  const enforcer = new Enforcer(auth, options.onAuthFailure);
  app.decorateRequest('authorize', function authorize(this: FastifyRequest, action: Action, id: string): boolean {
    return enforcer.allowed(this, action, id);
  });
  app.decorateRequest('recordOutcome', function (this: FastifyRequest, kind: SecretKind, id: string, result: ItemResult): void {
    recordOutcome(this, audit.fingerprint, kind, id, result);
  });
  app.decorateRequest('recordInvalidation', function (this: FastifyRequest, invalidated: number, fanout: string): void {
    recordInvalidation(this, invalidated, fanout);
  });
  app.decorateRequest('recordWrite', function (this: FastifyRequest, kind: SecretKind, id: string, write: Parameters<FastifyRequest['recordWrite']>[2]): void {
    recordWrite(this, audit.fingerprint, kind, id, write);
  });

  const authenticationFailed = (request: FastifyRequest, reply: FastifyReply, err: AuthenticationError): void => {
    options.onAuthFailure(err.reason);
    if (err.reason === 'jwks_unavailable') return enforcer.refuse(request, reply, problem.auth_unavailable(err.message), err.reason);
    const missing = err.reason === 'missing_token';
    reply.header('www-authenticate', missing ? BEARER_REALM : `${BEARER_REALM}, error="invalid_token"`);
    enforcer.refuse(request, reply, problem[missing ? 'unauthenticated' : 'invalid_token'](err.message, { reason: err.reason }), err.reason);
  };

  /** onRequest of one /v1 route: authenticate → rate limit → authorize (path or plain grant). Callback
   * style, synchronous for a token verified before: no promise on the hot path. */
  function requestLine(url: string, permission: RoutePermission | undefined) {
    const decidedHere = !(permission && 'id' in permission && permission.id === 'body');
    return function checkAccess(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
      // A path that lacks the route's literal suffix is answered 405 by the handler, which serves nothing.
      if (!servesPath(request, permission)) return done();
      request.access = { principal: null, items: [], refusal: null, problemCode: undefined, route: url };
      if (!audit.sink.healthy && audit.failClosed) {
        return enforcer.refuse(request, reply, problem.audit_unavailable('The audit log cannot be written, so no request is served (audit.on_failure: refuse).'), 'audit_unavailable');
      }
      const admit = (principal: Principal): void => {
        if (!enforcer.rateLimit(request, reply, principal) || !enforcer.authorizeRoute(request, reply, permission)) return;
        // Decided from the request line: the guard holds already (a decision allowed it, or it was answered).
        if (decidedHere && !enforcer.allowedSomething(request, reply)) return;
        done();
      };
      authenticate(
        request,
        verifier,
        // A verified client certificate adds its cert_* claims to the token's (src/auth/client-cert.ts).
        (principal) => admit(clientCertificates?.principal(request.raw.socket, principal) ?? principal),
        (err) => {
          // No token: with server.tls.certificate_only, a verified client certificate alone is the caller.
          const byCertificate = err.reason === 'missing_token' ? clientCertificates?.principal(request.raw.socket, null) : null;
          if (byCertificate) return admit(byCertificate);
          authenticationFailed(request, reply, err);
        },
        done,
      );
    };
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/v1/')) return;
    const permission = route.config?.permission;
    if (permission && 'action' in permission && permission.action === 'none') return; // 405 method guards serve no data
    addRouteHook(route, 'onRequest', requestLine(route.url, permission));
    if (permission && 'id' in permission && permission.id === 'body') {
      addRouteHook(route, 'preHandler', (request, reply, done) => {
        if (enforcer.authorizeBody(request, reply, permission) && enforcer.allowedSomething(request, reply)) done();
      });
    }
    const action = permission && 'action' in permission && (isScopedAction(permission.action) || isPlainAction(permission.action)) ? permission.action : null;
    // A write route names its target, so that a refused write's event says where it would have gone.
    const writeTarget = route.config?.writeTarget;
    // A route whose permission names its action by the path is the one route of that action: its events need not name it.
    const routeImplied = !!permission && (!('id' in permission) || permission.id === 'path');
    addRouteHook(route, 'onResponse', (request, reply, done) => {
      if (writeTarget) for (const item of request.access?.items ?? []) item.backend ??= writeTarget;
      // The path's id names the event only when nothing was decided (a hit has its item already).
      const id = request.access?.items.length ? null : pathId(request, permission);
      writeAccessEvents(audit.sink, request, reply, action, id, routeImplied);
      done();
    });
    const countRequest: onResponseHookHandler | null = requestMetricsHook(permission, metrics);
    if (countRequest) addRouteHook(route, 'onResponse', countRequest);
  });
}
