// The gateway configuration every measured gateway shares: access control on (an HS256
// key from a file, tokens minted as `secrets-gateway token create` mints them), the audit
// log to a file, metrics on, the cache with its defaults unless a section says otherwise.
// The per-subject rate limit stays on (its cost is part of the hot path) with a ceiling
// no bench load reaches: every bench request comes from one subject.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { AuthConfigSchema, type AuthConfig } from '../../src/auth/config-schema.ts';
import { mintToken } from '../../src/auth/token.ts';

export const READ_SCOPES = 'connections:read:* variables:read:* config:read:*';

export interface BenchGatewayConfig {
  /** The config, without server (the process helper sets host and port). */
  config: Record<string, unknown>;
  /** A valid token with read scopes on everything. */
  token: string;
}

/** Writes the key files into `dir` (where config.yaml will be) and returns the config and a token. */
export function benchGatewayConfig(options: { backends: Array<Record<string, unknown>>; cache?: Record<string, unknown>; log?: string; dir: string }): BenchGatewayConfig {
  const jwtKey = randomBytes(32).toString('base64url');
  const auth = {
    keys: [{ kid: 'bench', alg: 'HS256', secret_file: 'jwt-key' }],
    rate_limit: { max: 1_000_000_000, window_seconds: 1 },
  };
  writeFileSync(join(options.dir, 'jwt-key'), jwtKey, { mode: 0o600 });
  writeFileSync(join(options.dir, 'audit-key'), randomBytes(32).toString('base64url'), { mode: 0o600 });
  const token = mintToken(Value.Default(AuthConfigSchema, structuredClone(auth)) as AuthConfig, options.dir, {}, {
    sub: 'bench-worker',
    scope: READ_SCOPES,
    ttlMs: 24 * 3_600_000,
    kid: 'bench',
  });
  return {
    token,
    config: {
      log: { level: options.log ?? 'info' },
      auth,
      audit: { sink: 'file', file: 'audit.log', key_file: 'audit-key' },
      metrics: { enabled: true },
      cache: options.cache ?? {},
      backends: options.backends,
    },
  };
}
