// What an invalidation names: one secret, the ids matching a glob (optionally of
// one kind), or everything. The same shape travels over Redis between replicas,
// so it carries ids and globs only, never a value.
import { SECRET_KINDS, type SecretKind } from '../backends/types.ts';

export type InvalidationScope = { kind: SecretKind; id: string } | { glob: string; kind?: SecretKind } | { all: true };

const isKind = (k: unknown): k is SecretKind => typeof k === 'string' && (SECRET_KINDS as readonly string[]).includes(k);
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

/**
 * Does `id` match `glob`? `*` matches any run of characters (`/` included, since ids may contain
 * it) and `?` any one character; everything else matches itself. The grammar of the `<glob>` in
 * grants. The classic greedy matcher with one backtrack point: O(len(glob) × len(id)) at worst,
 * with no regular expression to blow up.
 */
export function globMatches(glob: string, id: string): boolean {
  const g = [...glob];
  const s = [...id];
  let gi = 0;
  let si = 0;
  let star = -1;
  let resume = 0;
  while (si < s.length) {
    if (gi < g.length && (g[gi] === '?' || (g[gi] !== '*' && g[gi] === s[si]))) {
      gi++;
      si++;
    } else if (gi < g.length && g[gi] === '*') {
      star = gi++;
      resume = si;
    } else if (star >= 0) {
      gi = star + 1;
      si = ++resume;
    } else return false;
  }
  while (gi < g.length && g[gi] === '*') gi++;
  return gi === g.length;
}

/** A predicate over (kind, id) for a scope. */
export function scopeMatcher(scope: InvalidationScope): (kind: SecretKind, id: string) => boolean {
  if ('all' in scope) return () => true;
  if ('glob' in scope) {
    return (kind, id) => (scope.kind === undefined || scope.kind === kind) && globMatches(scope.glob, id);
  }
  return (kind, id) => kind === scope.kind && id === scope.id;
}
