// POST /v1/cache/invalidate: drop cached answers by kind and id, by glob, or all,
// here and (with cache.redis_url) on every other replica.
import type { FastifyInstance } from 'fastify';
import type { InvalidationScope } from '../cache/invalidation.ts';
import type { RedisInvalidationBus } from '../cache/redis-bus.ts';
import type { SecretCache } from '../cache/secret-cache.ts';
import { problem } from '../errors.ts';
import { validateId } from './ids.ts';
import { ref } from '../http/openapi.ts';
import { guardMethods } from './method-guard.ts';
import { bodyPermission, type BodyItem } from '../auth/permissions.ts';
import type { SecretKind } from '../secrets.ts';

interface InvalidationBody {
  kind?: SecretKind;
  id?: string;
  glob?: string;
  all?: boolean;
}

const invalid = (message: string) => problem.invalid_request(message);

function scopeOf(body: InvalidationBody): InvalidationScope {
  const given = [body.id !== undefined, body.glob !== undefined, body.all !== undefined].filter(Boolean).length;
  if (given !== 1) throw invalid('Give exactly one of: kind and id, glob (with an optional kind), or all: true.');
  if (body.all !== undefined) {
    if (body.all !== true || body.kind !== undefined) throw invalid('all must be true, without a kind.');
    return { all: true };
  }
  if (body.glob !== undefined) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(body.glob)) throw invalid('A glob has no control characters.');
    return body.kind === undefined ? { glob: body.glob } : { glob: body.glob, kind: body.kind };
  }
  if (body.kind === undefined) throw invalid('An id needs its kind.');
  validateId(body.kind, body.id!);
  return { kind: body.kind, id: body.id! };
}

/**
 * What an invalidation asks to act on, for the pipeline to decide before the handler runs: one id
 * needs `cache:invalidate:<glob>` matching it; a glob needs a granted glob that covers every id it
 * can match; all is the glob `*`, so it needs `cache:invalidate:*`. Policy denies apply as to reads.
 */
function invalidationItems(body: unknown): BodyItem[] {
  const scope = scopeOf(body as InvalidationBody);
  if ('all' in scope) return [{ action: 'cache:invalidate', glob: '*' }];
  if ('glob' in scope) return [{ action: 'cache:invalidate', glob: scope.glob }];
  return [{ action: 'cache:invalidate', id: scope.id }];
}

export function registerCacheRoutes(app: FastifyInstance, cache: SecretCache, bus: RedisInvalidationBus | undefined): void {
  app.post<{ Body: InvalidationBody }>(
    '/v1/cache/invalidate',
    { config: { permission: bodyPermission(invalidationItems, { each: false }) }, schema: { body: ref('CacheInvalidation'), response: { 200: ref('CacheInvalidationResult') } } },
    async (request, reply) => {
      const scope = scopeOf(request.body);
      const invalidated = cache.invalidate(scope, 'api');
      const fanout = !bus ? 'not_configured' : (await bus.publish(scope)) ? 'published' : 'unavailable';
      request.recordInvalidation(invalidated, fanout);
      request.log.info({ scope, invalidated, fanout }, 'cache invalidated');
      reply.header('cache-control', 'no-store');
      return { invalidated, fanout };
    },
  );
  guardMethods(app, '/v1/cache/invalidate', ['POST']);
}
