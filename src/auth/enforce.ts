// Steps "rate limit" and "authorize" of the request pipeline, and the request's access state that
// every step records into (and the audit step reads). A decision is made here, for every /v1
// request, before its handler runs: by the path id, by the plain grant, or by each item the body
// names. Whatever this file does not recognise is refused.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditItem } from '../audit/events.ts';
import { GatewayError, problem } from '../errors.ts';
import { sendProblem } from '../http/problems.ts';
import { isPlainAction, isScopedAction, KIND_OF_ACTION, type Action } from '../secrets.ts';
import type { AuthConfig } from './config.ts';
import type { BodyItem, RoutePermission } from './permissions.ts';
import { decide, decideGlob, type Decision } from './policy.ts';
import { SubjectRateLimiter } from './rate-limit.ts';
import type { AuthFailureReason } from './reasons.ts';
import type { Principal } from './verify.ts';

/** What the pipeline knows about one /v1 request: who, what was decided, and why it was refused. */
export interface RequestAccess {
  principal: Principal | null;
  /** One per decision about a secret (or a plain grant); the audit step writes one event each. */
  items: AuditItem[];
  /** The refusal of the whole request, before any item was decided (authentication, rate limit, a guard). */
  refusal: { reason: string } | null;
  problemCode: string | undefined;
  route: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Access-control state of a /v1 request (null elsewhere). */
    access: RequestAccess | null;
  }
}

/** The WWW-Authenticate challenge (RFC 6750) of a refused /v1 request, and of one refused for scope. */
export const BEARER_REALM = 'Bearer realm="secrets-gateway"';
const INSUFFICIENT_SCOPE = `${BEARER_REALM}, error="insufficient_scope"`;

/** The 403 body: which grant was missing, or the reason, never whether the secret exists. */
function forbiddenError(action: Action | null, reason: string): GatewayError {
  const detail =
    reason === 'no_grant' && action
      ? `This token has no grant for ${action} on this ${isScopedAction(action) ? 'id' : 'gateway'}: it needs ${isScopedAction(action) ? `${action}:<glob matching it>` : action}.`
      : reason === 'denied_by_policy'
        ? `A policy denies ${action ?? 'this action'} here for this token.`
        : reason === 'unsafe_id'
          ? 'This id is refused whatever the grant: it has control characters, or a ".", ".." or empty path segment.'
          : 'This route is refused: it did not decide access to what it serves (a server bug, fail closed).';
  return problem.forbidden(detail, { reason, ...(reason === 'no_grant' && action ? { missing_grant: action } : {}) });
}

export class Enforcer {
  private readonly limiter: SubjectRateLimiter | null;
  private readonly auth: AuthConfig;
  private readonly onFailure: (reason: AuthFailureReason) => void;

  constructor(auth: AuthConfig, onFailure: (reason: AuthFailureReason) => void) {
    this.auth = auth;
    this.onFailure = onFailure;
    this.limiter = auth.rate_limit ? new SubjectRateLimiter(auth.rate_limit.max, auth.rate_limit.window_seconds * 1000) : null;
  }

  /** A refusal of the whole request (nothing about any secret was decided); always audited. */
  refuse(request: FastifyRequest, reply: FastifyReply, error: GatewayError, reason: string): void {
    request.access!.refusal = { reason };
    sendProblem(request, reply, error);
  }

  /** Step "rate limit", per subject (issuer + sub). true: go on. */
  rateLimit(request: FastifyRequest, reply: FastifyReply, principal: Principal): boolean {
    request.access!.principal = principal;
    if (!this.limiter) return true;
    const limit = this.limiter.take(principal.rateLimitKey);
    reply.header('x-ratelimit-limit', this.limiter.maxHeader).header('x-ratelimit-remaining', limit.remaining).header('x-ratelimit-reset', limit.resetSeconds);
    if (limit.allowed) return true;
    reply.header('retry-after', limit.resetSeconds);
    this.refuse(request, reply, problem.rate_limited(`Too many requests for this subject; retry in ${limit.resetSeconds} s.`), 'rate_limited');
    return false;
  }

  /**
   * Step "authorize", from the request line (onRequest): a path id or a plain grant is decided
   * now; a body permission is decided by authorizeBody once the body is parsed. true: go on.
   * Any shape not listed here is refused (undeclared_route), dry run or not.
   */
  authorizeRoute(request: FastifyRequest, reply: FastifyReply, permission: RoutePermission | undefined): boolean {
    const principal = request.access!.principal!;
    if (permission && 'id' in permission && permission.id === 'path' && isScopedAction(permission.action)) {
      const id = pathId(request, permission) ?? '';
      return this.apply(request, reply, permission.action, { id }, decide(principal.access, permission.action, id));
    }
    if (permission && 'id' in permission && permission.id === 'body' && typeof permission.items === 'function') return true;
    if (permission && !('id' in permission) && isPlainAction(permission.action)) {
      // A plain grant about one secret (its resolution): the id is audited with the decision.
      const target = 'suffix' in permission && permission.suffix ? { id: pathId(request, permission) ?? '' } : null;
      return this.apply(request, reply, permission.action, target, decide(principal.access, permission.action));
    }
    return this.undeclared(request, reply, 'undeclared_route');
  }

  /**
   * Step "authorize" for a body permission (preHandler: the body is validated): each item the body
   * names is decided now. A body that names nothing decided nothing, and is refused; so is any
   * denied item when the route answers as a whole. true: go on to the handler.
   */
  authorizeBody(request: FastifyRequest, reply: FastifyReply, permission: Extract<RoutePermission, { id: 'body' }>): boolean {
    const principal = request.access!.principal!;
    let items: BodyItem[];
    try {
      items = permission.items(request.body);
    } catch (err) {
      // The body names its items wrongly (e.g. both an id and a glob): the validation error it is.
      sendProblem(request, reply, err instanceof GatewayError ? err : problem.invalid_request('The request body does not name what to act on.'));
      return false;
    }
    if (items.length === 0) return this.undeclared(request, reply, 'undeclared_decision');
    for (const item of items) {
      const decision = 'glob' in item ? decideGlob(principal.access, item.action, item.glob) : decide(principal.access, item.action, item.id);
      if (!this.record(request, item.action, item, decision) && !permission.each) {
        this.deny(request, reply, item.action, decision);
        return false;
      }
    }
    return true;
  }

  /** Is an item a body-permission route already decided allowed? Anything not decided is refused. */
  allowed(request: FastifyRequest, action: Action, id: string): boolean {
    return request.access?.items.some((i) => i.action === action && i.id === id && i.decision !== 'deny') ?? false;
  }

  /** The fail-closed guard before every handler: a request that no decision allowed is never served. A
   * request that decided nothing is a route's bug (undeclared_decision); one whose every item was denied
   * (a batch of secrets the token may not read) is answered 403 as a whole. */
  allowedSomething(request: FastifyRequest, reply: FastifyReply): boolean {
    const items = request.access!.items;
    if (items.some((i) => i.decision !== 'deny')) return true;
    if (items.length === 0) return this.undeclared(request, reply, 'undeclared_decision');
    const first = items[0]!;
    reply.header('www-authenticate', INSUFFICIENT_SCOPE);
    sendProblem(request, reply, forbiddenError(first.action as Action, first.reason ?? 'no_grant'));
    return false;
  }

  private undeclared(request: FastifyRequest, reply: FastifyReply, reason: 'undeclared_route' | 'undeclared_decision'): false {
    this.onFailure(reason);
    reply.header('www-authenticate', INSUFFICIENT_SCOPE);
    this.refuse(request, reply, forbiddenError(null, reason), reason);
    return false;
  }

  /** Records a decision and, when it refuses, answers 403. */
  private apply(request: FastifyRequest, reply: FastifyReply, action: Action, target: BodyItem | { id: string } | null, decision: Decision): boolean {
    if (this.record(request, action, target, decision)) return true;
    this.deny(request, reply, action, decision);
    return false;
  }

  private deny(request: FastifyRequest, reply: FastifyReply, action: Action, decision: Decision): void {
    reply.header('www-authenticate', INSUFFICIENT_SCOPE);
    sendProblem(request, reply, forbiddenError(action, decision.allowed ? 'no_grant' : decision.reason));
  }

  /** Records one decision for the audit step. In a dry run (auth.enforce: false) a deny is served and marked would_deny. */
  private record(request: FastifyRequest, action: Action, target: BodyItem | { id: string } | null, decision: Decision): boolean {
    const item: AuditItem = { action, kind: KIND_OF_ACTION[action], id: target && 'id' in target ? target.id : null, decision: 'allow' };
    if (target && 'glob' in target) item.glob = target.glob;
    request.access!.items.push(item);
    if (decision.allowed) return true;
    this.onFailure(decision.reason);
    item.reason = decision.reason;
    if (this.auth.enforce) {
      item.decision = 'deny';
      item.outcome = 'denied';
      return false;
    }
    item.decision = 'would_deny';
    request.log.warn({ action, reason: decision.reason }, 'dry run: would deny');
    return true;
  }
}

const wildcard = (request: FastifyRequest): string => (request.params as { '*'?: string })['*'] ?? '';

/** Whether a path with a `suffix` permission is one this route serves (else its handler answers 405, serving nothing). */
export const servesPath = (request: FastifyRequest, permission: RoutePermission | undefined): boolean =>
  !(permission && 'suffix' in permission && permission.suffix) || wildcard(request).endsWith(permission.suffix);

/** The id a `path` permission names: the route's wildcard, less its literal suffix (`/test`). */
export function pathId(request: FastifyRequest, permission: RoutePermission | undefined): string | null {
  if (permission && !('id' in permission) && 'suffix' in permission && permission.suffix) return wildcard(request).slice(0, -permission.suffix.length);
  if (!permission || !('id' in permission) || permission.id !== 'path') return null;
  const path = wildcard(request);
  return permission.suffix && path.endsWith(permission.suffix) ? path.slice(0, -permission.suffix.length) : path;
}
