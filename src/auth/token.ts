// Minting tokens for HMAC keys in the configuration: `secrets-gateway token
// create` and the dev token `serve` prints when no auth is configured.
import { createSigner } from 'fast-jwt';
import { ConfigError } from '../config/errors.ts';
import { isHmac, type AuthConfig } from './config.ts';
import { readKeyMaterial } from './keys.ts';

/** `10m`, `12h`, `30s`, `7d` → milliseconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(ttl);
  if (!m) throw new Error(`--ttl "${ttl}" is not a duration like 30s, 10m, 12h or 7d`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export interface MintOptions {
  sub: string;
  scope?: string | undefined;
  ttlMs: number;
  kid?: string | undefined;
  claims?: Record<string, string> | undefined;
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Signs a token with an HS* key of `auth` (the one named by kid, or the only one), with the configured aud and iss. */
export function mintToken(auth: AuthConfig, baseDir: string, env: NodeJS.ProcessEnv, options: MintOptions): string {
  const hmacKeys = auth.keys.filter((k) => isHmac(k.alg) && (options.kid === undefined || k.kid === options.kid));
  if (hmacKeys.length !== 1) {
    throw new ConfigError('auth.keys', options.kid ? `no HS256/384/512 key with kid "${options.kid}"` : 'name the HS key to sign with (--kid): there is not exactly one');
  }
  const key = hmacKeys[0]!;
  const secret = readKeyMaterial(key, `auth.keys[${auth.keys.indexOf(key)}]`, baseDir, env);
  const aud = first(auth.audience);
  const iss = first(auth.issuer);
  const sign = createSigner({
    key: secret,
    algorithm: key.alg,
    kid: key.kid,
    expiresIn: options.ttlMs,
    ...(aud ? { aud } : {}),
    ...(iss ? { iss } : {}),
  });
  return sign({ ...options.claims, sub: options.sub, ...(options.scope ? { scope: options.scope } : {}) });
}
