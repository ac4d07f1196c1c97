// The metrics endpoint (on the main port, or a port of its own) and the request
// metrics of the secret routes, one hook per route from its declared permission (src/pipeline.ts adds it).
import type { Server } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { http } from '../support/node-http.ts';
import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import type { RoutePermission } from '../auth/permissions.ts';
import { READ_ACTION, type ScopedAction, type SecretKind } from '../secrets.ts';
import { guardMethods } from './method-guard.ts';
import { batchedCounter, batchedHistogram, type GatewayMetrics, type RequestKind, type RequestOutcome } from '../metrics.ts';

/** The kind a read action serves (the request metrics count reads only). */
const READ_KIND = Object.fromEntries(Object.entries(READ_ACTION).map(([kind, action]) => [action, kind])) as Partial<Record<ScopedAction, SecretKind>>;

function outcomeOf(status: number): RequestOutcome {
  if (status < 300) return 'found';
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'denied';
  return 'error';
}

/** The hook that counts and times one secret route's requests, with its kind worked out once from its
 * declared permission; null for routes that serve no secret. A batch lookup counts each item where it is
 * resolved (src/routes/secrets.ts); here only its duration, and its refusal as a whole. */
export function requestMetricsHook(permission: RoutePermission | undefined, metrics: GatewayMetrics): onResponseHookHandler | null {
  if (!permission || !('id' in permission)) return null;
  const batch = permission.id === 'body' && permission.batch === true;
  const kind: RequestKind | undefined = batch ? 'lookup' : permission.id === 'path' ? READ_KIND[permission.action] : undefined;
  if (!kind) return null;
  const duration = batchedHistogram(metrics.requestDuration, { kind });
  const found = batchedCounter(metrics.requests, { kind, outcome: 'found' });
  return (_request, reply, done) => {
    duration.observe(reply.elapsedTime / 1000);
    const outcome = outcomeOf(reply.statusCode);
    if (outcome === 'found' && !batch) found.inc();
    else if (!batch || outcome === 'denied') metrics.requests.inc({ kind, outcome });
    done();
  };
}

export function registerMetricsRoute(app: FastifyInstance, metrics: GatewayMetrics, path: string): void {
  app.get(path, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store');
    return metrics.registry.metrics();
  });
  guardMethods(app, path, ['GET']);
}

/** A listener of its own for /metrics (metrics.port): scrapers reach it without reaching the API. */
export async function startMetricsServer(metrics: GatewayMetrics, host: string, port: number, path: string, https?: HttpsServerOptions): Promise<Server> {
  const handler: Parameters<typeof http.createServer>[1] = (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  };
  // With server.tls, HTTPS with the same certificate (src/http/tls.ts: metricsServerOptions).
  const server = https ? (process.getBuiltinModule('node:https').createServer(https, handler) as unknown as Server) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
