import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.ts';
import { sendProblem } from '../problems.ts';
import { permissions } from './permissions.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes that only answer 405 for a path's other methods. */
    methodGuard?: boolean;
  }
}

// TRACE and QUERY too: Node parses both, and a method it parses must not fall through to a 404.
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY'] as const;

/** Answers 405 with `Allow` for the methods a URL does not serve, instead of a misleading 404.
 * `servedElsewhere`: methods another route answers on this pattern for some URLs only (not advertised). */
export function guardMethods(app: FastifyInstance, url: string, allowed: string[], servedElsewhere: string[] = []): void {
  const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
  const others = ALL_METHODS.filter((m) => !allow.includes(m) && !servedElsewhere.includes(m));
  const refuse = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    reply.header('allow', allow.join(', '));
    return sendProblem(request, reply, new GatewayError('method_not_allowed', 405, `${request.method} is not allowed here; use ${allowed.join(' or ')}.`));
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
