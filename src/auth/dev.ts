// Safe defaults for `npm start` with no `auth` configured: a random signing key
// in ./.secrets-gateway/ (0600), a ready dev token with read scopes printed on
// startup, and (enforced in serve.ts) loopback only.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { AuthConfig } from './config.ts';
import { authSectionWithDefaults } from '../config/validators.ts';
import { STATE_DIR, readOrCreateSecretFile } from '../support/state-dir.ts';
import { mintToken } from './token.ts';

// Dev mode is loopback-only: the token also holds what an operator tries first (backends, connection tests, invalidation).
export const DEV_SCOPES = 'connections:read:* variables:read:* config:read:* backends:read connections:test:* cache:invalidate:*';
export const DEV_TOKEN_TTL_MS = 12 * 3_600_000;

/** The auth section `serve` uses when none is configured; creates the key file on first use. */
export function devAuthConfig(): AuthConfig {
  const keyFile = path.resolve(STATE_DIR, 'dev-signing-key');
  readOrCreateSecretFile(keyFile, () => randomBytes(32).toString('base64url'), 'auth (dev key)');
  return authSectionWithDefaults({ keys: [{ kid: 'dev', alg: 'HS256', secret_file: keyFile }] });
}

export function devToken(auth: AuthConfig): string {
  return mintToken(auth, process.cwd(), process.env, { sub: 'dev', scope: DEV_SCOPES, ttlMs: DEV_TOKEN_TTL_MS, kid: 'dev' });
}
