// Liveness and readiness. Readiness is "every backend initialised": a backend
// serving its last good data after an error is `degraded` but still ready, so a
// bad edit to one file does not take every replica out of service at once.
// Critical connections and cross-replica invalidation weigh in as they are configured; an audit
// sink that cannot write makes it unavailable (or degraded, with audit.on_failure: serve), and so does a drain.
import type { FastifyInstance } from 'fastify';
import type { BackendReport, ReadinessBackend } from '../secrets.ts';
import type { InvalidationBusStatus } from '../cache/redis-bus.ts';
import type { AuditSinkStatus } from '../audit/sink.ts';
import type { CriticalConnectionState } from '../connection-checks/critical.ts';
import { ref } from '../http/openapi.ts';
import { guardMethods } from './method-guard.ts';

type ReadyStatus = 'ready' | 'degraded' | 'unavailable';

/** What critical_connections mean for readiness: their states and what a failing one does. */
export interface CriticalConnectionsReadiness {
  impact: 'none' | 'degraded' | 'unavailable';
  critical_connections: CriticalConnectionState[];
}

export interface ReadinessSources {
  backends: () => BackendReport[];
  criticalConnections?: () => CriticalConnectionsReadiness;
  /** Invalidations across replicas (only with cache.redis_url): degraded while Redis is away. */
  invalidation?: () => InvalidationBusStatus;
  /** The audit sink: while its writes fail, unavailable (audit.on_failure: refuse) or degraded (serve), and `audit` says why. */
  audit?: () => AuditReadiness;
  /** From SIGTERM on (src/http/drain.ts): unavailable, with `draining: true`, so the load balancer stops sending. */
  draining?: () => boolean;
}

export type AuditReadiness = AuditSinkStatus & { on_failure: 'refuse' | 'serve' };

export interface Readiness {
  status: ReadyStatus;
  backends: ReadinessBackend[];
  critical_connections?: CriticalConnectionState[];
  invalidation?: { state: InvalidationBusStatus['state']; error?: { code: string } };
  audit?: AuditReadiness;
  draining?: true;
}

/** What an unauthenticated probe may see of a backend: no message (it may name a path or quote a file). */
export function probeView(b: BackendReport): ReadinessBackend {
  return { name: b.name, type: b.type, state: b.state, ...(b.circuit ? { circuit: b.circuit } : {}), ...(b.error ? { error: { code: b.error.code } } : {}) };
}

const RANK: Record<ReadyStatus, number> = { ready: 0, degraded: 1, unavailable: 2 };
const worst = (a: ReadyStatus, b: ReadyStatus): ReadyStatus => (RANK[b] > RANK[a] ? b : a);

export function readiness(sources: ReadinessSources): Readiness {
  const backends = sources.backends();
  let status: ReadyStatus = backends.some((b) => b.state === 'failed' || b.state === 'initialising')
    ? 'unavailable'
    : backends.some((b) => b.state === 'degraded')
      ? 'degraded'
      : 'ready';
  const body: Readiness = { status, backends: backends.map(probeView) };
  const critical = sources.criticalConnections?.();
  if (critical && critical.critical_connections.length > 0) {
    if (critical.impact !== 'none') status = worst(status, critical.impact);
    body.critical_connections = critical.critical_connections;
  }
  const invalidation = sources.invalidation?.();
  if (invalidation) {
    if (invalidation.state === 'degraded') status = worst(status, 'degraded');
    body.invalidation = { state: invalidation.state, ...(invalidation.error ? { error: { code: invalidation.error.code } } : {}) };
  }
  const audit = sources.audit?.();
  if (audit?.state === 'failing') {
    status = worst(status, audit.on_failure === 'refuse' ? 'unavailable' : 'degraded');
    body.audit = audit;
  }
  if (sources.draining?.()) {
    status = 'unavailable';
    body.draining = true;
  }
  body.status = status;
  return body;
}

export function registerHealthRoutes(app: FastifyInstance, sources: ReadinessSources): void {
  app.get('/healthz', { schema: { response: { 200: ref('Health') } } }, async () => ({ status: 'ok' as const }));
  guardMethods(app, '/healthz', ['GET']);
  app.get('/readyz', { schema: { response: { 200: ref('Readiness'), 503: ref('Readiness') } } }, async (_request, reply) => {
    const body = readiness(sources);
    reply.header('cache-control', 'no-store');
    return reply.code(body.status === 'unavailable' ? 503 : 200).send(body);
  });
  guardMethods(app, '/readyz', ['GET']);
}
