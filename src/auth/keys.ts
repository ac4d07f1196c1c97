// Verification keys: the configured ones (HMAC secrets from files or the
// environment, public keys from PEM files) and, in jwks.ts, remote key sets.
// @fastify/jwt verifies with the key a token's kid selects (verify.ts). Each key
// names the algorithms a token signed with it may use, checked before verifying,
// so a token cannot choose how it is checked (no HS/RS confusion).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createVerifier } from 'fast-jwt';
import { ConfigError } from '../config/errors.ts';
import { isHmac, type AuthConfig, type KeyConfig } from './config.ts';

export interface VerifyKey {
  kid: string;
  /** The algorithms a token signed with this key may name; anything else is refused before verifying. */
  algorithms: readonly string[];
  /** The HMAC secret or the PEM public key, as @fastify/jwt takes it. A string: the plugin keeps one verifier per key string. */
  key: string;
}

/** RFC 7518 §3.2: an HMAC key at least as long as the hash. */
const MIN_HMAC_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };

/** A key's secret or PEM, from its file or environment variable; an HMAC secret shorter than its hash stops startup. */
export function readKeyMaterial(k: KeyConfig, at: string, baseDir: string, env: NodeJS.ProcessEnv): string {
  const file = k.secret_file ?? k.public_key_file;
  const envName = k.secret_env ?? k.public_key_env;
  let material: string;
  if (file) {
    try {
      material = readFileSync(path.resolve(baseDir, file), 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(at, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  } else {
    material = env[envName!] ?? '';
    if (!material) throw new ConfigError(at, `environment variable ${envName} is not set`);
  }
  if (isHmac(k.alg) && Buffer.byteLength(material) < MIN_HMAC_BYTES[k.alg]!) {
    throw new ConfigError(at, `a ${k.alg} secret must be at least ${MIN_HMAC_BYTES[k.alg]} bytes`);
  }
  return material;
}

/** Loads every configured key; a missing file, a short HMAC secret or a key of the wrong type stops startup. */
export function loadStaticKeys(auth: AuthConfig, baseDir: string, env: NodeJS.ProcessEnv): VerifyKey[] {
  return auth.keys.map((k, i) => {
    const at = `auth.keys[${i}]`;
    const key = readKeyMaterial(k, at, baseDir, env);
    try {
      // fast-jwt (what @fastify/jwt verifies with) refuses a key that does not fit the algorithm
      // (a private key, an RSA key for ES256, …): refused here, not at the first request.
      createVerifier({ key, algorithms: [k.alg] as never });
    } catch {
      throw new ConfigError(at, `the key is not a ${k.alg} public key`);
    }
    return { kid: k.kid, algorithms: [k.alg], key };
  });
}
