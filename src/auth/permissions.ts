// Every /v1 route declares in its config the permission it needs; the request pipeline
// (src/pipeline.ts) enforces it before the handler runs. Deny by default: a /v1 route that
// declares nothing, or a shape this file does not define, is refused; a request that reaches its
// handler without any decision having allowed it is refused too (`undeclared_decision`). Routes
// outside /v1 (health, docs) are public, and so are the 405 method guards, which serve no data.
import type { PlainAction, ScopedAction } from '../secrets.ts';

/** One thing a body-addressed request asks to act on: one id, or every id a glob matches (`*`: all). */
export type BodyItem = { action: ScopedAction; id: string } | { action: ScopedAction; glob: string };

export type RoutePermission =
  /** The id is the route's wildcard path parameter: needs `<action>:<glob matching the id>`.
   * With `suffix`, the wildcard ends in that literal (e.g. "/test"), which is not part of the id. */
  | { action: ScopedAction; id: 'path'; suffix?: string }
  /** The ids are in the body: `items` names them (after the body is validated), and the pipeline
   * decides each one before the handler runs. `each`: items are answered one by one, a denied one
   * as `denied` (batch lookup); otherwise one denied item refuses the whole request (403). A body
   * that names no item decides nothing, and is refused. */
  | { id: 'body'; items: (body: unknown) => BodyItem[]; each: boolean; batch?: boolean }
  /** A grant with no id, such as `backends:read`. */
  | { action: PlainAction }
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
  testConnection: { action: 'connections:test', id: 'path', suffix: '/test' },
  readBackends: { action: 'backends:read' },
  methodGuard: { action: 'none' },
} as const satisfies Record<string, RoutePermission>;

/** A permission whose ids come from the request body (see RoutePermission). */
export const bodyPermission = (items: (body: unknown) => BodyItem[], options: { each: boolean; batch?: boolean }): RoutePermission => ({ id: 'body', items, ...options });
