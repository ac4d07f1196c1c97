import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problem } from '../errors.ts';
import { sendProblem } from '../http/problems.ts';
import { permissions } from '../auth/permissions.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes that only answer 405 for a path's other methods. */
    methodGuard?: boolean;
  }
}

// TRACE and QUERY too: Node parses both, and a method it parses must not fall through to a 404.
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY'] as const;

/** Methods another route answers on this pattern for some URLs only: on those URLs `Allow` lists them too. */
export interface ServedElsewhere {
  methods: string[];
  /** Whether the request's URL is one of those (e.g. a wildcard that ends in "/test"). */
  at: (request: FastifyRequest) => boolean;
}

/** The methods a path answers: a GET route answers HEAD too (Fastify's exposeHeadRoutes). */
export const withHead = (allowed: readonly string[]): string[] => (allowed.includes('GET') ? [...allowed, 'HEAD'] : [...allowed]);

/** Answers 405 with `Allow` for the methods a URL does not serve, instead of a misleading 404. */
export function guardMethods(app: FastifyInstance, url: string, allowed: string[], servedElsewhere?: ServedElsewhere): void {
  const allow = withHead(allowed);
  const others = ALL_METHODS.filter((m) => !allow.includes(m) && !servedElsewhere?.methods.includes(m));
  const allowHere = (request: FastifyRequest): string[] => (servedElsewhere?.at(request) ? [...allow, ...servedElsewhere.methods] : allow);
  const refuse = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    reply.header('allow', allowHere(request).join(', '));
    return sendProblem(request, reply, problem.method_not_allowed(`${request.method} is not allowed here; use ${allowHere(request).filter((m) => m !== 'HEAD').join(' or ')}.`));
  };
  app.route({
    method: others,
    url,
    config: { methodGuard: true, permission: permissions.methodGuard },
    // Answered before the body is read: a wrong method's body (QUERY without a Content-Type, say) is never parsed.
    onRequest: async (request, reply) => refuse(request, reply),
    handler: refuse,
  });
}
