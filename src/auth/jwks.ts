// A remote JSON Web Key Set (an OIDC issuer, the Kubernetes API server's
// service-account issuer). The set is cached for `cache_seconds`; a token with
// a kid the set does not have refetches it, at most once per
// `min_refresh_interval_seconds`, so a stream of made-up kids cannot turn the
// gateway into a load generator against the issuer. A refetch replaces the set:
// a key the issuer rotated out stops verifying. (get-jwks 11 does not fit: it caches
// per kid, so the set cannot be fetched at startup; it fetches for every unknown kid;
// its stale fallback keeps serving a rotated-out key; Node's fetch ignores its timeout.)
import { readFileSync } from 'node:fs';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { Logger } from 'pino';
import type { JwksConfig } from './config.ts';
import type { VerifyKey } from './keys.ts';

const MAX_BODY_BYTES = 1 << 20;
const MAX_KEYS = 100;

/** The algorithms a public JWK may verify when it does not name its own `alg`. */
function algorithmsFor(jwk: JsonWebKey & { alg?: string }): string[] {
  const byType: Record<string, string[]> = {
    RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
    'EC:P-256': ['ES256'],
    'EC:P-384': ['ES384'],
    'EC:P-521': ['ES512'],
    'OKP:Ed25519': ['EdDSA'],
  };
  const family = byType[jwk.kty === 'RSA' ? 'RSA' : `${jwk.kty}:${jwk.crv}`] ?? [];
  if (jwk.alg === undefined) return family;
  return family.includes(jwk.alg) ? [jwk.alg] : [];
}

export class JwksKeySet {
  private keys = new Map<string, VerifyKey>();
  private fetchedAt = 0;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;
  /** How many times the set was fetched (for tests and logs). */
  fetches = 0;

  private readonly config: JwksConfig;
  private readonly logger: Logger;

  constructor(config: JwksConfig, logger: Logger) {
    this.config = config;
    this.logger = logger;
  }

  get url(): string {
    return this.config.url;
  }

  /** The key for `kid`, refetching the set when it is stale or does not have it (rate-limited). */
  async key(kid: string): Promise<VerifyKey | undefined> {
    const now = Date.now();
    const stale = now - this.fetchedAt > this.config.cache_seconds * 1000;
    const mayRefetch = now - this.lastAttempt >= this.config.min_refresh_interval_seconds * 1000;
    if ((stale || !this.keys.has(kid)) && mayRefetch) await this.refresh();
    return this.keys.get(kid);
  }

  /** Whether the last fetch failed and there are no keys to fall back on. */
  get unavailable(): boolean {
    return this.fetchedAt === 0 && this.lastAttempt > Number.NEGATIVE_INFINITY;
  }

  refresh(): Promise<void> {
    this.inFlight ??= this.fetchKeys().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastAttempt = Date.now();
    this.fetches++;
    try {
      // Re-read each time: kubelet rotates projected tokens. (The URL is https, or http on loopback only.)
      const headers: Record<string, string> = this.config.token_file ? { authorization: `Bearer ${readFileSync(this.config.token_file, 'utf8').trim()}` } : {};
      const res = await fetch(this.config.url, { headers, signal: AbortSignal.timeout(this.config.timeout_seconds * 1000), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_BODY_BYTES) throw new Error('key set too large');
      const body = JSON.parse(text) as { keys?: unknown };
      if (!Array.isArray(body.keys)) throw new Error('no "keys" array');
      const keys = new Map<string, VerifyKey>();
      for (const jwk of body.keys.slice(0, MAX_KEYS) as Array<JsonWebKey & { kid?: unknown; use?: string; alg?: string }>) {
        if (typeof jwk?.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
        const algorithms = algorithmsFor(jwk); // symmetric ("oct") keys are never taken from a remote set
        if (algorithms.length === 0) continue;
        try {
          const key = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
          keys.set(jwk.kid, { kid: jwk.kid, algorithms, key });
        } catch {
          this.logger.warn({ jwks: this.config.url, kid: jwk.kid }, 'skipping a key the JWKS endpoint sent that is not a usable public key');
        }
      }
      this.keys = keys;
      this.fetchedAt = Date.now();
      this.logger.info({ jwks: this.config.url, kids: [...keys.keys()] }, 'JWKS fetched');
    } catch (err) {
      // Keep the keys we have: an issuer outage must not log every caller out at once.
      this.logger.warn({ jwks: this.config.url, error: (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message }, 'JWKS fetch failed');
    }
  }
}
