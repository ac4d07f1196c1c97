// `secrets-gateway token create | inspect`: mint a token with an HS key from a
// config file, and show what a token's claims grant under that config.
import { createDecoder } from 'fast-jwt';
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../config/errors.ts';
import { createLogger } from '../logging.ts';
import type { AuthConfig } from './config.ts';
import { accessFor } from './policy.ts';
import { AuthenticationError } from './reasons.ts';
import { grantsFromClaims, type Grant } from './scopes.ts';
import { mintToken, parseTtl } from './token.ts';
import { TokenVerifier } from './verify.ts';

function authOf(configFile: string): { auth: AuthConfig; baseDir: string } {
  const { config } = loadConfig({ configPath: configFile });
  if (!config.auth) throw new ConfigError('auth', `${configFile} has no auth section`);
  return { auth: config.auth, baseDir: config.baseDir };
}

/** `--claim k=v` (repeatable) → {k: v}. */
export function parseClaims(pairs: string[]): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--claim "${pair}" is not k=v`);
    claims[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return claims;
}

export function createTokenCommand(opts: { config: string; sub: string; scope?: string; ttl: string; kid?: string; claim: string[] }): string {
  const { auth, baseDir } = authOf(opts.config);
  return mintToken(auth, baseDir, process.env, { sub: opts.sub, scope: opts.scope, ttlMs: parseTtl(opts.ttl), kid: opts.kid, claims: parseClaims(opts.claim) });
}

const show = (g: Grant) => (g.glob === null ? g.action : `${g.action}:${g.glob}`);

/** Verifies `token` against the config and describes it; `ok` is false when it would be refused. */
export async function inspectTokenCommand(opts: { config: string; token: string }): Promise<{ ok: boolean; text: string }> {
  const { auth, baseDir } = authOf(opts.config);
  const lines: string[] = [];
  let claims: Record<string, unknown>;
  let header: Record<string, unknown>;
  try {
    ({ header, payload: claims } = createDecoder({ complete: true })(opts.token) as { header: Record<string, unknown>; payload: Record<string, unknown> });
  } catch {
    return { ok: false, text: 'not a JWT\n' };
  }
  const verifier = new TokenVerifier(auth, baseDir, process.env, createLogger({ level: 'silent' }));
  let ok = true;
  try {
    await verifier.verify(opts.token);
    lines.push('verification: OK');
  } catch (err) {
    if (!(err instanceof AuthenticationError)) throw err;
    ok = false;
    lines.push(`verification: REFUSED (${err.reason}): ${err.message}`);
  }
  lines.push(`header: ${JSON.stringify(header)}`, `claims: ${JSON.stringify(claims, null, 2)}`);
  if (typeof claims.exp === 'number') lines.push(`expires: ${new Date(claims.exp * 1000).toISOString()}`);
  const access = accessFor(claims, grantsFromClaims(claims), auth.policies);
  lines.push(`grants${ok ? '' : ' (if it verified)'}: ${access.grants.map(show).join(' ') || '(none: every request is denied)'}`);
  lines.push(`denies: ${access.denies.map(show).join(' ') || '(none)'}`);
  return { ok, text: `${lines.join('\n')}\n` };
}
