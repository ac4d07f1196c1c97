// Liveness and readiness. Readiness is "every backend initialised": a backend
// serving its last good data after an error is `degraded` but still ready, so a
// bad edit to one file does not take every replica out of service at once.
import type { FastifyInstance } from 'fastify';
import type { BackendReport } from '../backends/chain.ts';
import type { CriticalConnectionState } from '../critical-connections.ts';
import { ref } from '../openapi.ts';
import { guardMethods } from './method-guard.ts';

type ReadyStatus = 'ready' | 'degraded' | 'unavailable';

/** What else weighs on readiness (critical connections): their states and what a failing one means. */
export interface ReadinessExtras {
  impact: 'none' | 'degraded' | 'unavailable';
  critical_connections: CriticalConnectionState[];
}

export function readiness(backends: BackendReport[], extras?: ReadinessExtras): { status: ReadyStatus; backends: BackendReport[]; critical_connections?: CriticalConnectionState[] } {
  const rank: Record<ReadyStatus, number> = { ready: 0, degraded: 1, unavailable: 2 };
  let status: ReadyStatus = backends.some((b) => b.state === 'failed' || b.state === 'initialising')
    ? 'unavailable'
    : backends.some((b) => b.state === 'degraded')
      ? 'degraded'
      : 'ready';
  if (extras && extras.impact !== 'none' && rank[extras.impact] > rank[status]) status = extras.impact;
  return { status, backends, ...(extras && extras.critical_connections.length > 0 ? { critical_connections: extras.critical_connections } : {}) };
}

export function registerHealthRoutes(app: FastifyInstance, statuses: () => BackendReport[], extras?: () => ReadinessExtras): void {
  app.get('/healthz', { schema: { response: { 200: ref('Health') } } }, async () => ({ status: 'ok' as const }));
  guardMethods(app, '/healthz', ['GET']);
  app.get('/readyz', { schema: { response: { 200: ref('Readiness'), 503: ref('Readiness') } } }, async (_request, reply) => {
    const body = readiness(statuses(), extras?.());
    reply.header('cache-control', 'no-store');
    return reply.code(body.status === 'unavailable' ? 503 : 200).send(body);
  });
  guardMethods(app, '/readyz', ['GET']);
}
