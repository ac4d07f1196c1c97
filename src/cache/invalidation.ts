// What an invalidation names: one secret, the ids matching a glob (optionally of
// one kind), or everything. The same shape travels over Redis between replicas,
// so it carries ids and globs only, never a value. A glob has the grammar of grants (src/auth/glob.ts).
import { globMatches } from '../auth/glob.ts';
import { isSecretKind as isKind, type SecretKind } from '../secrets.ts';

export type InvalidationScope = { kind: SecretKind; id: string } | { glob: string; kind?: SecretKind } | { all: true };

const isText = (s: unknown): s is string => typeof s === 'string' && s.length > 0 && s.length <= 250;

/** A scope from untrusted JSON (a message from Redis), or undefined when it is not one. */
export function parseScope(raw: unknown): InvalidationScope | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.all === true) return { all: true };
  if (isText(r.glob) && (r.kind === undefined || isKind(r.kind))) return r.kind === undefined ? { glob: r.glob } : { glob: r.glob, kind: r.kind };
  if (isKind(r.kind) && isText(r.id)) return { kind: r.kind, id: r.id };
  return undefined;
}

/** A predicate over (kind, id) for a scope. */
export function scopeMatcher(scope: InvalidationScope): (kind: SecretKind, id: string) => boolean {
  if ('all' in scope) return () => true;
  if ('glob' in scope) {
    return (kind, id) => (scope.kind === undefined || scope.kind === kind) && globMatches(scope.glob, id);
  }
  return (kind, id) => kind === scope.kind && id === scope.id;
}
