// Bearer token → principal. @fastify/jwt (over fast-jwt) does the cryptography and
// the claim checks; this file chooses the key by kid (never by the token's say-so
// about the algorithm), maps failures to stable reasons, and caches verified
// tokens until they expire, in front of the plugin, so a token verified before
// costs one map lookup and no promise.
import type { FastifyJWTOptions } from '@fastify/jwt';
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { bearerToken } from './bearer-token.ts';
import type { AuthConfig } from './config.ts';
import { JwksKeySet } from './jwks.ts';
import { loadStaticKeys, type VerifyKey } from './keys.ts';
import { accessFor, type Access } from './policy.ts';
import { AuthenticationError, type AuthenticationFailure } from './reasons.ts';
import { grantsFromClaims } from './scopes.ts';

export interface AirflowContext {
  dag_id?: string;
  task_id?: string;
  run_id?: string;
  try_number?: string;
  team?: string;
  /** true when the context came from verified token claims, false when from X-Airflow-* headers. */
  verified: boolean;
}

export interface Principal {
  subject: string;
  issuer: string | null;
  claims: Record<string, unknown>;
  access: Access;
  /** Airflow context from the token's claims, when it has any. */
  airflow: AirflowContext | null;
  /** Expiry, in ms since the epoch. */
  expiresAt: number;
  /** Who the rate limit counts: issuer and subject. */
  rateLimitKey: string;
}

export const AIRFLOW_FIELDS = ['dag_id', 'task_id', 'run_id', 'try_number', 'team'] as const;

/** Airflow fields from token claims (top level, or in an `airflow` object). */
function airflowFromClaims(claims: Record<string, unknown>): AirflowContext | null {
  const nested = claims.airflow && typeof claims.airflow === 'object' ? (claims.airflow as Record<string, unknown>) : {};
  const ctx: AirflowContext = { verified: true };
  let any = false;
  for (const f of AIRFLOW_FIELDS) {
    const v = nested[f] ?? claims[f];
    if (typeof v === 'string' || typeof v === 'number') {
      ctx[f] = String(v).slice(0, 250);
      any = true;
    }
  }
  return any ? ctx : null;
}

const SUPPORTED = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

type Header = { alg?: unknown; kid?: unknown };
type Refusal = [AuthenticationFailure, string];
const MALFORMED: Refusal = ['malformed_token', 'The token is not a well-formed JWT.'];
const BY_CODE: Record<string, Refusal> = {
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: ['expired', 'The token has expired.'],
  FAST_JWT_INACTIVE: ['not_yet_valid', 'The token is not valid yet (nbf).'],
  FAST_JWT_INVALID_SIGNATURE: ['bad_signature', 'The token signature is invalid.'],
  FAST_JWT_MISSING_SIGNATURE: ['bad_signature', 'The token has no signature.'],
  FAST_JWT_INVALID_ALGORITHM: ['alg_not_allowed', 'The token algorithm is not allowed for its key.'],
};
// @fastify/jwt folds fast-jwt's bad-signature and claim errors into FST_JWT_AUTHORIZATION_TOKEN_INVALID;
// with `messages.authorizationTokenInvalid` below it keeps fast-jwt's message, which names the claim.
const BY_MESSAGE: Array<[RegExp, Refusal]> = [
  [/signature is invalid/, ['bad_signature', 'The token signature is invalid.']],
  [/claim is required/, ['missing_claim', 'The token lacks a required claim (exp, sub, and aud/iss when configured).']],
  [/\baud\b/, ['wrong_audience', 'The token is not for this audience.']],
  [/\biss\b/, ['wrong_issuer', 'The token is from an issuer this gateway does not trust.']],
];

/** A refusal from @fastify/jwt or fast-jwt → its stable reason; any other error is a bug and is thrown on. */
function reasonFor(err: unknown): AuthenticationError {
  if (err instanceof AuthenticationError) return err;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !/^(FAST|FST)_JWT_/.test(code)) throw err;
  const [reason, text] = BY_CODE[code] ?? BY_MESSAGE.find(([re]) => re.test(String(message)))?.[1] ?? MALFORMED;
  return new AuthenticationError(reason, text);
}

export class TokenVerifier {
  private readonly staticKeys: VerifyKey[];
  private readonly byKid: Map<string, VerifyKey>;
  readonly jwks: JwksKeySet[];
  private readonly cache: LRUCache<string, Principal> | null;
  private readonly auth: AuthConfig;

  constructor(auth: AuthConfig, baseDir: string, env: NodeJS.ProcessEnv, logger: Logger) {
    this.auth = auth;
    this.staticKeys = loadStaticKeys(auth, baseDir, env);
    this.byKid = new Map(this.staticKeys.map((k) => [k.kid, k]));
    this.jwks = auth.jwks.map((j) => new JwksKeySet(j, logger));
    this.cache = auth.token_cache_size > 0 ? new LRUCache({ max: auth.token_cache_size }) : null;
  }

  /** The options @fastify/jwt is registered with (src/pipeline.ts, and `token inspect`): verify only. */
  pluginOptions(): FastifyJWTOptions {
    const { audience, issuer } = this.auth;
    return {
      secret: { public: (_request: FastifyRequest, decoded: object) => this.keyFor((decoded as { header: Header }).header).then((k) => k.key) },
      decode: { complete: true }, // the key is chosen from the header
      verify: {
        extractToken: bearerToken,
        clockTolerance: this.auth.clock_skew_seconds * 1000,
        requiredClaims: ['exp', 'sub', ...(audience ? ['aud'] : []), ...(issuer ? ['iss'] : [])],
        ...(audience ? { allowedAud: audience } : {}),
        ...(issuer ? { allowedIss: issuer } : {}),
      },
      messages: { authorizationTokenInvalid: (err) => err.message },
    };
  }

  /** Fetches every JWKS once, so the first request does not wait; failures are logged, not fatal. */
  async init(): Promise<void> {
    await Promise.all(this.jwks.map((j) => j.refresh()));
  }

  /** The principal of a token verified before and not expired yet; undefined otherwise (then call verify). */
  cached(token: string): Principal | undefined {
    const cached = this.cache?.get(token);
    return cached && this.unexpired(cached) ? cached : undefined;
  }

  /** Not past its expiry, with the configured clock skew. */
  private unexpired(principal: Principal): boolean {
    return principal.expiresAt + this.auth.clock_skew_seconds * 1000 > Date.now();
  }

  /** Verifies the bearer token of `request` (`token`, as bearerToken read it, not in cached()) through @fastify/jwt. */
  async verify(request: FastifyRequest, token: string): Promise<Principal> {
    if (token.length > this.auth.max_token_bytes) throw new AuthenticationError('token_too_large', `The token is longer than ${this.auth.max_token_bytes} bytes.`);
    let claims: Record<string, unknown>;
    try {
      // No options: the plugin then reuses one verifier per key.
      claims = await request.jwtVerify<Record<string, unknown>>();
    } catch (err) {
      throw reasonFor(err);
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw new AuthenticationError('missing_claim', 'The token needs a string sub and a numeric exp.');
    // A subject of blanks names nobody: the audit log and the rate limit would lump such callers together.
    if (claims.sub.trim().length === 0) throw new AuthenticationError('missing_claim', 'The token sub is empty.');
    this.checkLifetime(claims);
    const principal: Principal = {
      subject: claims.sub,
      issuer: typeof claims.iss === 'string' ? claims.iss : null,
      claims,
      access: accessFor(claims, grantsFromClaims(claims), this.auth.policies),
      airflow: airflowFromClaims(claims),
      expiresAt: claims.exp * 1000,
      rateLimitKey: `${typeof claims.iss === 'string' ? claims.iss : ''}|${claims.sub}`,
    };
    // No TTL in the LRU (its clock costs more than the rest of a cached check): cached() checks the expiry.
    if (this.unexpired(principal)) this.cache?.set(token, principal);
    return principal;
  }

  /** auth.max_token_lifetime_seconds, as Vault's token_max_ttl: a token meant to live longer is refused,
   * however far from its expiry it is now. Without `iat`, what is left of its life is what counts. */
  private checkLifetime(claims: Record<string, unknown>): void {
    const max = this.auth.max_token_lifetime_seconds;
    if (max == null) return;
    const exp = claims.exp as number;
    const lifetime = typeof claims.iat === 'number' ? exp - claims.iat : exp - Date.now() / 1000;
    if (lifetime > max + this.auth.clock_skew_seconds) {
      throw new AuthenticationError('token_lifetime_too_long', `The token lives longer than auth.max_token_lifetime_seconds (${max} s).`);
    }
  }

  /** The key a token's header names by kid, if that key may verify the token's alg. */
  private async keyFor({ alg, kid }: Header): Promise<VerifyKey> {
    if (typeof alg !== 'string' || !SUPPORTED.has(alg)) throw new AuthenticationError('alg_not_allowed', 'The token algorithm is not allowed.');
    if (kid === undefined) {
      // No kid: acceptable only when exactly one configured key can verify this algorithm.
      const candidates = this.staticKeys.filter((k) => k.algorithms.includes(alg));
      if (candidates.length === 1) return candidates[0]!;
      throw new AuthenticationError('unknown_kid', 'The token has no kid, and more than one key (or none) could verify it.');
    }
    if (typeof kid !== 'string' || kid.length > 256) throw new AuthenticationError('malformed_token', 'The token kid is not a short string.');
    let key = this.byKid.get(kid);
    for (const set of this.jwks) key ??= await set.key(kid);
    if (!key && this.staticKeys.length === 0 && this.jwks.length > 0 && this.jwks.every((j) => j.unavailable)) {
      throw new AuthenticationError('jwks_unavailable', 'The key set of the token issuer could not be fetched.');
    }
    if (!key) throw new AuthenticationError('unknown_kid', 'The token kid names no key this gateway trusts.');
    if (!key.algorithms.includes(alg)) throw new AuthenticationError('alg_not_allowed', 'The token algorithm is not allowed for its key.');
    return key;
  }
}
