// Liveness and readiness. Readiness is "every backend initialised": a backend
// serving its last good data after an error is `degraded` but still ready, so a
// bad edit to one file does not take every replica out of service at once.
import type { FastifyInstance } from 'fastify';
import type { BackendReport } from '../backends/chain.ts';
import type { InvalidationBusStatus } from '../cache/redis-bus.ts';
import { ref } from '../openapi.ts';
import { guardMethods } from './method-guard.ts';

export interface Readiness {
  status: 'ready' | 'degraded' | 'unavailable';
  backends: BackendReport[];
  /** Invalidations across replicas (only with cache.redis_url): degraded while Redis is away. */
  invalidation?: InvalidationBusStatus;
}

export function readiness(backends: BackendReport[], invalidation?: InvalidationBusStatus): Readiness {
  const status = backends.some((b) => b.state === 'failed' || b.state === 'initialising')
    ? 'unavailable'
    : backends.some((b) => b.state === 'degraded') || invalidation?.state === 'degraded'
      ? 'degraded'
      : 'ready';
  return invalidation ? { status, backends, invalidation } : { status, backends };
}

export function registerHealthRoutes(app: FastifyInstance, statuses: () => BackendReport[], invalidation?: () => InvalidationBusStatus): void {
  app.get('/healthz', { schema: { response: { 200: ref('Health') } } }, async () => ({ status: 'ok' as const }));
  guardMethods(app, '/healthz', ['GET']);
  app.get('/readyz', { schema: { response: { 200: ref('Readiness'), 503: ref('Readiness') } } }, async (_request, reply) => {
    const body = readiness(statuses(), invalidation?.());
    reply.header('cache-control', 'no-store');
    return reply.code(body.status === 'unavailable' ? 503 : 200).send(body);
  });
  guardMethods(app, '/readyz', ['GET']);
}
