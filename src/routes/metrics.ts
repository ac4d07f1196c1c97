// The metrics endpoint (on the main port, or a port of its own) and the request
// metrics of the secret routes, taken in one hook from each route's declared permission.
import type { Server } from 'node:http';
import { http } from '../node-http.ts';
import type { FastifyInstance } from 'fastify';
import { addRouteHook } from './route-hooks.ts';
import { guardMethods } from './method-guard.ts';
import { batchedCounter, batchedHistogram, type GatewayMetrics, type RequestKind, type RequestOutcome } from '../metrics.ts';
import type { ScopedAction } from './permissions.ts';

const KIND_OF_ACTION: Partial<Record<ScopedAction, RequestKind>> = {
  'connections:read': 'connection',
  'variables:read': 'variable',
  'config:read': 'config',
};

function outcomeOf(status: number): RequestOutcome {
  if (status < 300) return 'found';
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'denied';
  return 'error';
}

/** Counts and times every secret request. A batch lookup counts each item where it is resolved
 * (src/routes/secrets.ts); here only its duration, and its refusal as a whole. Each secret route
 * (registered after this) gets the hook with its kind worked out once, from its declared permission. */
export function registerRequestMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (!permission || !('id' in permission)) return;
    const batch = Array.isArray(permission.action);
    const kind = batch ? 'lookup' : KIND_OF_ACTION[permission.action as ScopedAction];
    if (!kind) return;
    const duration = batchedHistogram(metrics.requestDuration, { kind });
    const found = batchedCounter(metrics.requests, { kind, outcome: 'found' });
    addRouteHook(route, 'onResponse', (_request, reply, done) => {
      duration.observe(reply.elapsedTime / 1000);
      const outcome = outcomeOf(reply.statusCode);
      if (outcome === 'found' && !batch) found.inc();
      else if (!batch || outcome === 'denied') metrics.requests.inc({ kind, outcome });
      done();
    });
  });
}

export function registerMetricsRoute(app: FastifyInstance, metrics: GatewayMetrics, path: string): void {
  app.get(path, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store');
    return metrics.registry.metrics();
  });
  guardMethods(app, path, ['GET']);
}

/** A listener of its own for /metrics (metrics.port): scrapers reach it without reaching the API. */
export async function startMetricsServer(metrics: GatewayMetrics, host: string, port: number, path: string): Promise<Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
