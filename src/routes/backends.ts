// GET /v1/backends: each backend's name, type, state, circuit, last success and
// last error code (the same reports /readyz shows), for operators. Never a secret.
import type { FastifyInstance } from 'fastify';
import type { BackendReport } from '../secrets.ts';
import { ref } from '../http/openapi.ts';
import { guardMethods } from './method-guard.ts';
import { permissions } from '../auth/permissions.ts';

export function registerBackendsRoute(app: FastifyInstance, statuses: () => BackendReport[]): void {
  app.get('/v1/backends', { config: { permission: permissions.readBackends }, schema: { response: { 200: ref('BackendList') } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { backends: statuses() };
  });
  guardMethods(app, '/v1/backends', ['GET']);
}
