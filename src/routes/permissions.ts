// Every /v1 route declares in its config the permission it needs; the access
// control layer (src/auth/) enforces it in one place. A /v1 route that declares
// nothing is denied: deny by default. Routes outside /v1 (health, docs) are public,
// and so are the 405 method guards, which serve no data.

/** Grants that name a secret: `<action>:<glob over ids>`. */
export type ScopedAction = 'connections:read' | 'variables:read' | 'config:read' | 'connections:test' | 'cache:invalidate';

export type RoutePermission =
  /** The id is the route's wildcard path parameter: needs `<action>:<glob matching the id>`.
   * With `suffix`, the wildcard ends in that literal (e.g. "/test"), which is not part of the id. */
  | { action: ScopedAction; id: 'path'; suffix?: string }
  /** The handler checks each item it acts on (batch lookup, invalidation by glob). */
  | { action: ScopedAction | ScopedAction[]; id: 'per-item' }
  /** A grant with no id, such as `backends:read`. */
  | { action: 'backends:read' }
  /** Serves no data (the 405 method guards): answered without a token. The API's shape is public (/openapi.json). */
  | { action: 'none' };

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: RoutePermission;
  }
}

export const permissions = {
  readConnection: { action: 'connections:read', id: 'path' },
  readVariable: { action: 'variables:read', id: 'path' },
  readConfig: { action: 'config:read', id: 'path' },
  batchLookup: { action: ['connections:read', 'variables:read', 'config:read'], id: 'per-item' },
  testConnection: { action: 'connections:test', id: 'path', suffix: '/test' },
  readBackends: { action: 'backends:read' },
  /** The id or glob in the body is the item: `cache:invalidate:<glob>` must cover it (all: `*`). */
  invalidateCache: { action: 'cache:invalidate', id: 'per-item' },
  methodGuard: { action: 'none' },
} as const satisfies Record<string, RoutePermission>;
