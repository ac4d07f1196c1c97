import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../errors.ts';
import { sendProblem } from '../problems.ts';
import { permissions } from '../auth/permissions.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes that only answer 405 for a path's other methods. */
    methodGuard?: boolean;
  }
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Answers 405 with `Allow` for the methods a URL does not serve, instead of a misleading 404.
 * `servedElsewhere`: methods another route answers on this pattern for some URLs only (not advertised). */
export function guardMethods(app: FastifyInstance, url: string, allowed: string[], servedElsewhere: string[] = []): void {
  const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
  const others = ALL_METHODS.filter((m) => !allow.includes(m) && !servedElsewhere.includes(m));
  app.route({
    method: others,
    url,
    config: { methodGuard: true, permission: permissions.methodGuard },
    handler: (request, reply) => {
      reply.header('allow', allow.join(', '));
      return sendProblem(request, reply, new GatewayError('method_not_allowed', 405, `${request.method} is not allowed here; use ${allowed.join(' or ')}.`));
    },
  });
}
