// Who may do what: a principal's grants (its token's scopes plus what matching
// policies grant) and denies (from matching policies), and the one decision
// function. A deny beats any grant; no grant means deny.
import type { Action } from '../secrets.ts';
import { foldCase, globCovers, globMatches, globMatchesFolded, globsIntersect } from './glob.ts';
import { parseScope, unsafeIdReason, type Grant } from './scopes.ts';

export interface PolicyConfig {
  /** Claim name → glob over the claim's value; every entry must match (an array claim matches if one element does). */
  match: Record<string, string>;
  grants?: string[];
  deny?: string[];
}

export interface Access {
  grants: Grant[];
  denies: Grant[];
}

export type DenyReason = 'no_grant' | 'denied_by_policy' | 'unsafe_id';
export type Decision = { allowed: true } | { allowed: false; reason: DenyReason };

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** A claim value as text for matching and substitution: strings and numbers only. */
function scalarClaim(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function claimMatches(value: unknown, glob: string): boolean {
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => {
    const text = scalarClaim(v);
    return text !== null && globMatches(glob, text);
  });
}

export function policyMatches(policy: PolicyConfig, claims: Record<string, unknown>): boolean {
  const entries = Object.entries(policy.match);
  return entries.length > 0 && entries.every(([claim, glob]) => Object.hasOwn(claims, claim) && claimMatches(claims[claim], glob));
}

/**
 * Fills `${claim}` in a grant or deny. A claim's value is literal text, never a
 * pattern: in a grant, a missing claim or one containing `*` drops the grant (it
 * would widen it); in a deny, either becomes `*` (a wider deny is the safe side).
 */
export function substitute(template: string, claims: Record<string, unknown>, kind: 'grant' | 'deny'): string | null {
  let dropped = false;
  const out = template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = Object.hasOwn(claims, name) ? scalarClaim(claims[name]) : null;
    if (value === null || value.includes('*')) {
      if (kind === 'grant') dropped = true;
      return '*';
    }
    return value;
  });
  return dropped ? null : out;
}

/** A principal's access: its own scopes, plus the grants and denies of every policy its claims match. */
export function accessFor(claims: Record<string, unknown>, tokenGrants: Grant[], policies: readonly PolicyConfig[]): Access {
  const grants = [...tokenGrants];
  const denies: Grant[] = [];
  for (const policy of policies) {
    if (!policyMatches(policy, claims)) continue;
    for (const g of policy.grants ?? []) {
      const scope = substitute(g, claims, 'grant');
      const grant = scope === null ? null : parseScope(scope);
      if (grant) grants.push(grant);
    }
    for (const d of policy.deny ?? []) {
      const deny = parseScope(substitute(d, claims, 'deny')!);
      if (deny) denies.push(deny);
    }
  }
  return { grants, denies };
}

/** May `access` do `action` (on `id`, for actions that name a secret)? */
export function decide(access: Access, action: Action, id?: string): Decision {
  if (id === undefined) {
    if (access.denies.some((d) => d.action === action)) return { allowed: false, reason: 'denied_by_policy' };
    return access.grants.some((g) => g.action === action) ? { allowed: true } : { allowed: false, reason: 'no_grant' };
  }
  if (unsafeIdReason(id)) return { allowed: false, reason: 'unsafe_id' };
  if (access.denies.some((d) => d.action === action && d.glob !== null && globMatchesFolded(d.glob, id))) {
    return { allowed: false, reason: 'denied_by_policy' };
  }
  const granted = access.grants.some((g) => g.action === action && g.glob !== null && globMatches(g.glob, id));
  return granted ? { allowed: true } : { allowed: false, reason: 'no_grant' };
}

/**
 * May `access` do `action` on every id `glob` can match (an invalidation by glob; `*` for all)?
 * Allowed only when one granted glob covers the whole of `glob` (globCovers), and refused when any
 * deny could match one id it reaches (globsIntersect, case-folded as denies are): sound, since the
 * answer never lets through an id that `decide` would refuse.
 */
export function decideGlob(access: Access, action: Action, glob: string): Decision {
  if (unsafeIdReason(glob)) return { allowed: false, reason: 'unsafe_id' };
  const folded = foldCase(glob);
  if (access.denies.some((d) => d.action === action && (d.glob === null || globsIntersect(foldCase(d.glob), folded)))) {
    return { allowed: false, reason: 'denied_by_policy' };
  }
  const granted = access.grants.some((g) => g.action === action && g.glob !== null && globCovers(g.glob, glob));
  return granted ? { allowed: true } : { allowed: false, reason: 'no_grant' };
}

/** Checks policies at load time; returns a problem per bad entry, as `[path, message]`. */
export function policyProblems(policies: readonly PolicyConfig[]): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  policies.forEach((p, i) => {
    for (const field of ['grants', 'deny'] as const) {
      (p[field] ?? []).forEach((s, j) => {
        if (!parseScope(s.replace(PLACEHOLDER, 'x'))) problems.push([`auth.policies[${i}].${field}[${j}]`, `"${s}" is not a scope (kind:action:glob, or backends:read)`]);
      });
    }
  });
  return problems;
}
