// The scope grammar (the glob inside a grant is src/auth/glob.ts's).
// Pure: no I/O, no state. A grant reads `kind:action:glob` (`connections:read:team_a_*`)
// or, for grants that name no secret, `kind:action` (`backends:read`).
import { isPlainAction, isScopedAction, type Action, type PlainAction, type ScopedAction } from '../secrets.ts';

export interface Grant {
  action: Action;
  /** A glob over ids for scoped actions; null for plain ones. */
  glob: string | null;
}

/**
 * Parses one scope. Anything that is not exactly one of the grammar's forms
 * (other casing, a missing or empty glob, an unknown kind, OIDC's `openid`) is
 * null: it grants nothing. The glob is everything after the second colon, so it
 * may itself contain colons, as connection ids may.
 */
export function parseScope(scope: string): Grant | null {
  if (isPlainAction(scope)) return { action: scope as PlainAction, glob: null };
  const second = scope.indexOf(':', scope.indexOf(':') + 1);
  if (second < 0) return null;
  const action = scope.slice(0, second);
  const glob = scope.slice(second + 1);
  if (!isScopedAction(action) || glob.length === 0) return null;
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
