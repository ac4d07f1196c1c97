// Access control for the API, in one place. Every /v1 route declares the
// permission it needs in `config.permission` (routes/permissions.ts); the
// onRequest hook this file gives every /v1 route authenticates the bearer token,
// applies the per-subject rate limit and enforces that permission before anything
// else runs (no body is parsed for a caller without a valid token). Routes that act on several secrets (POST /v1/lookup) call
// `request.authorize(action, id)` per item. Every decision and its outcome
// becomes one audit event when the response is done.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Audit } from '../audit/index.ts';
import type { AuditEvent, AuditItem, Outcome } from '../audit/events.ts';
import type { SecretKind } from '../backends/types.ts';
import { GatewayError } from '../errors.ts';
import { sendProblem, toGatewayError } from '../problems.ts';
import type { RoutePermission } from '../routes/permissions.ts';
import { addRouteHook } from '../routes/route-hooks.ts';
import type { AuthConfig } from './config.ts';
import { decide, type Decision } from './policy.ts';
import { SubjectRateLimiter } from './rate-limit.ts';
import { isoNow } from '../iso-time.ts';
import { AuthenticationError, type AuthFailureReason } from './reasons.ts';
import { isScopedAction, type Action } from './scopes.ts';
import type { ClientCertificates } from './client-cert.ts';
import { AIRFLOW_FIELDS, type AirflowContext, type Principal, type TokenVerifier } from './verify.ts';

/** What a route reports about one secret it looked up. */
export type ItemResult = { found: { source: string; value: unknown } } | { error: unknown };

interface RequestAccess {
  principal: Principal | null;
  items: AuditItem[];
  /** The refusal of the whole request, before any item was decided. */
  refusal: { reason: string } | null;
  problemCode: string | undefined;
  route: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Access-control state of a /v1 request (null elsewhere). */
    access: RequestAccess | null;
    /** For routes that act on several secrets: may this caller do `action` on `id`? Audited. */
    authorize(action: Action, id: string): boolean;
    /** Reports what happened to one secret the route looked up (for the audit event). */
    recordOutcome(kind: SecretKind, id: string, result: ItemResult): void;
  }
}

export interface AccessControlOptions {
  auth: AuthConfig;
  verifier: TokenVerifier;
  audit: Audit;
  logger: Logger;
  /** Called with the reason of every refused authentication or authorization (for metrics). */
  onFailure?: ((reason: AuthFailureReason) => void) | undefined;
  /** Verified TLS client certificates as identity (server.tls with client_auth request or require). */
  clientCertificates?: ClientCertificates | undefined;
}

const KIND_OF: Record<string, SecretKind | null> = { connections: 'connection', variables: 'variable', config: 'config' };
const kindOf = (action: string): SecretKind | null => KIND_OF[action.split(':')[0]!] ?? null;

const REALM = 'Bearer realm="secrets-gateway"';
const TOKEN_PARAMS = new Set(['access_token', 'token', 'id_token', 'jwt', 'bearer', 'authorization']);
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\./;

/** The bearer token of a request; throws an AuthenticationError for every way of sending it wrong. */
function bearerToken(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(query ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    if (TOKEN_PARAMS.has(name.toLowerCase()) || values.some((v) => typeof v === 'string' && JWT_LIKE.test(v))) {
      throw new AuthenticationError('token_in_query', 'Tokens are accepted only in the Authorization header, never in the URL (URLs are logged by proxies).');
    }
  }
  let seen = 0;
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') seen++;
  if (seen > 1) throw new AuthenticationError('multiple_authorization', 'Send exactly one Authorization header.');
  const header = request.headers.authorization;
  if (!header) throw new AuthenticationError('missing_token', 'This route needs a bearer token: Authorization: Bearer <JWT>.');
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m) throw new AuthenticationError('malformed_token', 'The Authorization header must be "Bearer <JWT>".');
  return m[1]!;
}

const AIRFLOW_HEADERS: Record<(typeof AIRFLOW_FIELDS)[number], string> = {
  dag_id: 'x-airflow-dag-id',
  task_id: 'x-airflow-task-id',
  run_id: 'x-airflow-run-id',
  try_number: 'x-airflow-try-number',
  team: 'x-airflow-team',
};

/** Airflow context sent as headers: recorded, but marked unverified (any caller can send them). */
function airflowFromHeaders(request: FastifyRequest): AirflowContext | null {
  const ctx: AirflowContext = { verified: false };
  let any = false;
  for (const f of AIRFLOW_FIELDS) {
    const v = request.headers[AIRFLOW_HEADERS[f]];
    if (typeof v === 'string' && v.length > 0) {
      ctx[f] = v.slice(0, 250);
      any = true;
    }
  }
  return any ? ctx : null;
}

function outcomeFromError(err: unknown): { outcome: Outcome; code: string } {
  const code = toGatewayError(err).code;
  return { outcome: code === 'not_found' ? 'not_found' : 'error', code };
}

export function registerAccessControl(app: FastifyInstance, options: AccessControlOptions): void {
  const { auth, verifier, audit, logger, onFailure, clientCertificates } = options;
  if (!auth.enforce) {
    logger.warn('auth.enforce is false: DRY RUN. Requests that policy denies are SERVED and audited as would_deny. Do not leave this on.');
  }

  app.decorateRequest('access', null);

  /** Applies a decision: audited; in a dry run, a deny is served and marked would_deny. */
  function applyDecision(request: FastifyRequest, action: Action, id: string | null, decision: Decision): boolean {
    const item: AuditItem = { action, kind: kindOf(action), id, decision: 'allow' };
    request.access!.items.push(item);
    if (decision.allowed) return true;
    onFailure?.(decision.reason);
    item.reason = decision.reason;
    if (auth.enforce) {
      item.decision = 'deny';
      item.outcome = 'denied';
      return false;
    }
    item.decision = 'would_deny';
    request.log.warn({ action, reason: decision.reason }, 'dry run: would deny');
    return true;
  }

  app.decorateRequest('authorize', function authorize(this: FastifyRequest, action: Action, id: string): boolean {
    if (!this.access?.principal) return false;
    return applyDecision(this, action, id, decide(this.access.principal.access, action, id));
  });

  app.decorateRequest('recordOutcome', function recordOutcome(this: FastifyRequest, kind: SecretKind, id: string, result: ItemResult): void {
    const item = this.access?.items.find((i) => i.kind === kind && i.id === id && i.outcome === undefined);
    if (!item) return;
    if ('found' in result) {
      item.outcome = 'found';
      item.backend = result.found.source;
      item.fingerprint = audit.fingerprint.of(result.found.value);
    } else {
      Object.assign(item, outcomeFromError(result.error));
    }
  });

  const refuse = (request: FastifyRequest, reply: FastifyReply, error: GatewayError, reason: string): void => {
    request.access!.refusal = { reason };
    sendProblem(request, reply, error);
  };

  const authenticationFailed = (request: FastifyRequest, reply: FastifyReply, err: AuthenticationError): void => {
    onFailure?.(err.reason);
    if (err.reason === 'jwks_unavailable') return refuse(request, reply, new GatewayError('auth_unavailable', 503, err.message), err.reason);
    const missing = err.reason === 'missing_token';
    reply.header('www-authenticate', missing ? REALM : `${REALM}, error="invalid_token"`);
    refuse(request, reply, new GatewayError(missing ? 'unauthenticated' : 'invalid_token', 401, err.message, { reason: err.reason }), err.reason);
  };

  const limiter = auth.rate_limit ? new SubjectRateLimiter(auth.rate_limit.max, auth.rate_limit.window_seconds * 1000) : null;

  /** After authentication: the rate limit, then the route's permission. true: go on to the handler. */
  function admit(request: FastifyRequest, reply: FastifyReply, permission: RoutePermission | undefined, tokenPrincipal: Principal): boolean {
    // A verified client certificate adds its cert_* claims to the token's (src/auth/client-cert.ts).
    const principal = clientCertificates?.principal(request.raw.socket, tokenPrincipal) ?? tokenPrincipal;
    const access = request.access!;
    access.principal = principal;
    if (limiter) {
      const limit = limiter.take(principal.rateLimitKey);
      reply.header('x-ratelimit-limit', limiter.maxHeader).header('x-ratelimit-remaining', limit.remaining).header('x-ratelimit-reset', limit.resetSeconds);
      if (!limit.allowed) {
        reply.header('retry-after', limit.resetSeconds);
        sendProblem(request, reply, new GatewayError('rate_limited', 429, `Too many requests for this subject; retry in ${limit.resetSeconds} s.`));
        return false;
      }
    }
    const forbidden = (): false => {
      reply.header('www-authenticate', `${REALM}, error="insufficient_scope"`);
      sendProblem(request, reply, new GatewayError('forbidden', 403, 'This token does not grant access to this resource.'));
      return false;
    };
    if (!permission) {
      // A /v1 route that declares no permission is a bug; deny it, dry run or not.
      onFailure?.('undeclared_route');
      access.refusal = { reason: 'undeclared_route' };
      return forbidden();
    }
    if (!('id' in permission)) {
      if (!applyDecision(request, permission.action as Action, null, decide(principal.access, permission.action as Action))) return forbidden();
    } else if (permission.id === 'path' && isScopedAction(permission.action)) {
      const id = pathId(request, permission) ?? '';
      if (!applyDecision(request, permission.action, id, decide(principal.access, permission.action, id))) return forbidden();
    }
    // per-item routes: the handler calls request.authorize for each item.
    return true;
  }

  /** The onRequest hook of one /v1 route: authenticates, rate-limits and enforces its permission.
   * Callback style, and synchronous for a token already verified: no promise on the hot path. */
  function accessHook(route: string, permission: RoutePermission | undefined) {
    const suffix = permission && 'suffix' in permission ? permission.suffix : undefined;
    return function checkAccess(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
      // A path that lacks the route's literal suffix is answered 405 by the handler, which serves nothing.
      if (suffix && !wildcard(request).endsWith(suffix)) return done();
      request.access = { principal: null, items: [], refusal: null, problemCode: undefined, route };
      if (!audit.sink.healthy && audit.failClosed) {
        return refuse(request, reply, new GatewayError('audit_unavailable', 503, 'The audit log cannot be written, so no request is served (audit.on_failure: refuse).'), 'audit_unavailable');
      }
      let token: string;
      try {
        token = bearerToken(request);
      } catch (err) {
        // No token: with server.tls.certificate_only, a verified client certificate alone is the caller.
        const byCertificate = (err as AuthenticationError).reason === 'missing_token' ? clientCertificates?.principal(request.raw.socket, null) : null;
        if (byCertificate) {
          if (admit(request, reply, permission, byCertificate)) done();
          return;
        }
        return authenticationFailed(request, reply, err as AuthenticationError);
      }
      const known = verifier.cached(token);
      if (known) {
        if (admit(request, reply, permission, known)) done();
        return;
      }
      verifier.verify(token).then(
        (principal) => {
          if (admit(request, reply, permission, principal)) done();
        },
        (err: unknown) => (err instanceof AuthenticationError ? authenticationFailed(request, reply, err) : done(err as Error)),
      );
    };
  }

  // Every /v1 route (registered after this) gets the access check and the audit event as hooks of its
  // own, with its permission in hand: nothing is looked up per request. Method guards serve no data.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return;
    const permission = route.config?.permission;
    if (permission?.action === 'none') return;
    addRouteHook(route, 'onRequest', accessHook(route.url, permission));
    addRouteHook(route, 'onResponse', (request, reply, done) => {
      writeAuditEvents(request, reply, permission);
      done();
    });
  });

  function writeAuditEvents(request: FastifyRequest, reply: FastifyReply, permission: RoutePermission | undefined): void {
    const access = request.access;
    if (!access) return;
    const p = access.principal;
    const base = {
      type: 'access' as const,
      time: isoNow(),
      request_id: request.id,
      method: request.method,
      route: access.route,
      client: request.ip,
      subject: p?.subject ?? null,
      issuer: p?.issuer ?? null,
      airflow: p?.airflow ?? airflowFromHeaders(request),
      status: reply.statusCode,
      latency_ms: Math.round(reply.elapsedTime * 100) / 100,
    };
    const status = reply.statusCode;
    const fallback = (): Pick<AuditItem, 'outcome' | 'code'> =>
      status === 404 ? { outcome: 'not_found', code: access.problemCode ?? 'not_found' } : status >= 400 ? { outcome: 'error', code: access.problemCode ?? 'error' } : { outcome: 'found' };
    if (access.items.length === 0) {
      if (!access.refusal && status < 400) return; // nothing was decided about any secret (an empty batch)
      const action = permission && typeof permission.action === 'string' ? permission.action : null;
      const id = permission ? pathId(request, permission) : null;
      const event: AuditEvent = {
        ...base,
        action,
        kind: action ? kindOf(action) : null,
        id,
        decision: access.refusal ? 'deny' : 'allow',
        ...(access.refusal ? { reason: access.refusal.reason, outcome: 'denied', code: access.problemCode } : fallback()),
      };
      audit.sink.write(event);
      return;
    }
    for (const item of access.items) audit.sink.write({ ...base, ...item, ...(item.outcome ? {} : fallback()) } satisfies AuditEvent);
  }
}

/** The request decorations routes use, answering "allowed" and recording nothing (benchmarks only). */
export function registerWithoutAccessControl(app: FastifyInstance): void {
  app.decorateRequest('access', null);
  app.decorateRequest('authorize', () => true);
  app.decorateRequest('recordOutcome', () => {});
}

const wildcard = (request: FastifyRequest): string => (request.params as { '*'?: string })['*'] ?? '';

/** The id a `path` permission names: the route's wildcard, less its literal suffix (`/test`). */
function pathId(request: FastifyRequest, permission: RoutePermission): string | null {
  if (!('id' in permission) || permission.id !== 'path') return null;
  const path = wildcard(request);
  return permission.suffix && path.endsWith(permission.suffix) ? path.slice(0, -permission.suffix.length) : path;
}
