// The scope grammar and the one glob matcher every access decision goes through.
// Pure: no I/O, no state. A grant reads `kind:action:glob` (`connections:read:team_a_*`)
// or, for grants that name no secret, `kind:action` (`backends:read`).

/** Actions whose grants carry a glob over secret ids. */
export const SCOPED_ACTIONS = ['connections:read', 'variables:read', 'config:read', 'connections:test', 'cache:invalidate'] as const;
/** Actions whose grants name no secret. */
export const PLAIN_ACTIONS = ['backends:read'] as const;

export type ScopedAction = (typeof SCOPED_ACTIONS)[number];
export type PlainAction = (typeof PLAIN_ACTIONS)[number];
export type Action = ScopedAction | PlainAction;

export interface Grant {
  action: Action;
  /** A glob over ids for scoped actions; null for plain ones. */
  glob: string | null;
}

const SCOPED = new Set<string>(SCOPED_ACTIONS);
const PLAIN = new Set<string>(PLAIN_ACTIONS);

export const isScopedAction = (a: string): a is ScopedAction => SCOPED.has(a);

/**
 * Parses one scope. Anything that is not exactly one of the grammar's forms
 * (other casing, a missing or empty glob, an unknown kind, OIDC's `openid`) is
 * null: it grants nothing. The glob is everything after the second colon, so it
 * may itself contain colons, as connection ids may.
 */
export function parseScope(scope: string): Grant | null {
  if (PLAIN.has(scope)) return { action: scope as PlainAction, glob: null };
  const second = scope.indexOf(':', scope.indexOf(':') + 1);
  if (second < 0) return null;
  const action = scope.slice(0, second);
  const glob = scope.slice(second + 1);
  if (!SCOPED.has(action) || glob.length === 0) return null;
  return { action: action as ScopedAction, glob };
}

/** The grants in a token's `scope` (space-separated string) and `scp` (array of strings) claims. */
export function grantsFromClaims(claims: Record<string, unknown>): Grant[] {
  const raw: string[] = [];
  if (typeof claims.scope === 'string') raw.push(...claims.scope.split(' '));
  if (Array.isArray(claims.scp)) for (const s of claims.scp) if (typeof s === 'string') raw.push(s);
  const grants: Grant[] = [];
  for (const s of raw) {
    const g = s.length > 0 ? parseScope(s) : null;
    if (g) grants.push(g);
  }
  return grants;
}

/**
 * Whole-string glob match: `*` matches any run of characters (including none
 * and including `/`); every other character matches only itself. No regular
 * expression is built, so no glob can make matching slow: each literal part is
 * found once, left to right (greedy-leftmost is exact for `*`-only globs).
 */
export function globMatches(glob: string, text: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === text;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (text.length < first.length + last.length) return false;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    if (part.length === 0) continue;
    const found = text.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * Unicode case folding for deny rules. Some backends fold the case of ids (the
 * environment backend reads AIRFLOW_CONN_<ID upper-cased>), so `TEAM_ADMIN` can
 * name the same secret as `team_admin`: a deny must not be sidestepped by casing.
 */
export const foldCase = (s: string): string => s.toUpperCase().toLowerCase();

/** Case-insensitive glob match (for denies). */
export const globMatchesFolded = (glob: string, text: string): boolean => globMatches(foldCase(glob), foldCase(text));

// C0/C1 control characters, DEL, the Unicode line separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Ids that no grant may match, whatever its glob: control characters, and `.`,
 * `..` or empty path segments (split at `/` or `\`). A backend that addresses
 * secrets by path (Vault, an HTTP API) may normalise `team_a/../admin` to
 * `admin`, so a grant for `team_a/*` must not reach it.
 */
export function unsafeIdReason(id: string): string | null {
  if (id.length === 0) return null; // invalid for everyone: validation answers 400
  if (CONTROL.test(id)) return 'control character';
  for (const segment of id.split(/[/\\]/)) {
    if (segment === '' || segment === '.' || segment === '..') return 'dot or empty path segment';
  }
  return null;
}
