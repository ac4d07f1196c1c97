// Hooks given to one route from an `onRoute` hook, after the hooks the route already has: a
// hook that applies to some routes only, with what it needs about the route worked out once,
// instead of a global hook that looks the route up on every request.
import type { RouteOptions, onRequestHookHandler, onResponseHookHandler, preHandlerHookHandler } from 'fastify';

export function addRouteHook(route: RouteOptions, name: 'onRequest', hook: onRequestHookHandler): void;
export function addRouteHook(route: RouteOptions, name: 'preHandler', hook: preHandlerHookHandler): void;
export function addRouteHook(route: RouteOptions, name: 'onResponse', hook: onResponseHookHandler): void;
export function addRouteHook(route: RouteOptions, name: 'onRequest' | 'preHandler' | 'onResponse', hook: unknown): void {
  const existing: unknown = route[name] ?? [];
  (route as unknown as Record<string, unknown>)[name] = [...(Array.isArray(existing) ? existing : [existing]), hook];
}
