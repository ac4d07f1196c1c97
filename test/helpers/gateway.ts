// Builds a real gateway for a test: real backends on temp files, access control
// on (an HS256 test key, unless the test configures its own auth), an audit log,
// a logger whose lines the test can read, and the OpenAPI contract checked on
// every response. Logs, audit logs and the secret values each gateway was given
// are kept under the test-artifacts directory for the leak check that runs after
// the whole suite (test/leak-check/).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createSigner } from 'fast-jwt';
import { stringify } from 'yaml';
import { buildGateway, type Gateway, type GatewayDeps } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { recordContractViolations } from './contract.ts';

export const ARTIFACTS_DIR = process.env.SG_TEST_ARTIFACTS ?? path.resolve(import.meta.dirname, '../../.test-artifacts');
export const READ_ALL = ['connections:read:*', 'variables:read:*', 'config:read:*'];
export const TEST_KID = 'test';

export interface TestGateway extends Gateway {
  dir: string;
  logs: string[];
  contractProblems: string[];
  /** The audit log file. */
  auditFile: string;
  /** The audit events written so far (flushed: call after close(), or after `await gw.flushAudit()`). */
  auditEvents(): Array<Record<string, unknown>>;
  /** A token signed with the test key (kid "test"): scopes, extra claims, lifetime in seconds. */
  token(scopes?: string[], claims?: Record<string, unknown>, ttlSeconds?: number): string;
  /** app.inject with a READ_ALL token, unless the request sets its own Authorization header. */
  inject(request: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'sg-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Remembers values that must never appear in a log or audit file (checked after the suite). */
export function registerSecrets(values: Iterable<string>): void {
  const list = [...values].filter((v) => v.length >= 6);
  if (list.length === 0) return;
  mkdirSync(path.join(ARTIFACTS_DIR, 'secrets'), { recursive: true });
  writeFileSync(path.join(ARTIFACTS_DIR, 'secrets', `${process.pid}-${randomBytes(6).toString('hex')}.json`), JSON.stringify(list));
}

/** Keeps a log (text) for the leak check. */
export function keepLog(name: string, text: string): void {
  mkdirSync(path.join(ARTIFACTS_DIR, 'logs'), { recursive: true });
  writeFileSync(path.join(ARTIFACTS_DIR, 'logs', `${name}-${process.pid}-${randomBytes(4).toString('hex')}.log`), text);
}

/** Access control for a test gateway, in-process or a separate `serve` process: an HS256 key and an
 * audit key written into `dir`, the `auth` and `audit` config sections that use them (with an audit
 * file kept for the leak check), and a function that signs tokens with the key. */
export function writeTestAccessControl(dir: string, name: string) {
  const signingKey = randomBytes(32).toString('base64url');
  const auditKey = randomBytes(32).toString('base64url');
  writeFileSync(path.join(dir, 'test-signing-key'), signingKey, { mode: 0o600 });
  writeFileSync(path.join(dir, 'test-audit-key'), auditKey, { mode: 0o600 });
  mkdirSync(path.join(ARTIFACTS_DIR, 'audit'), { recursive: true });
  const auditFile = path.join(ARTIFACTS_DIR, 'audit', `${name}.log`);
  registerSecrets([signingKey, auditKey]);
  return {
    signingKey,
    auditKey,
    auditFile,
    auth: { keys: [{ kid: TEST_KID, alg: 'HS256', secret_file: path.join(dir, 'test-signing-key') }] } as Record<string, unknown>,
    audit: { file: auditFile, key_file: path.join(dir, 'test-audit-key') } as Record<string, unknown>,
    token: (scopes: string[] = READ_ALL, claims: Record<string, unknown> = {}, ttlSeconds = 600): string =>
      createSigner({ key: signingKey, algorithm: 'HS256', kid: TEST_KID, expiresIn: ttlSeconds * 1000 })({ sub: 'test-subject', scope: scopes.join(' '), ...claims }),
  };
}

/** Writes `files` (name → content) into a fresh temp dir and a config.yaml there, then builds the gateway. */
export async function startTestGateway(options: {
  config: Record<string, unknown>;
  files?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  dir?: string;
  /** Called before the app is ready, e.g. to add a hook that records requests. */
  beforeReady?: (app: Gateway['app']) => void;
  /** Secret values this test uses beyond its env values, for the leak check. */
  secrets?: string[];
  /** Serve HTTPS with these options (test/integration/tls.test.ts). */
  https?: GatewayDeps['https'];
}): Promise<TestGateway> {
  const dir = options.dir ?? tempDir();
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, name), content);
  const access = writeTestAccessControl(dir, path.basename(dir));
  const { signingKey, auditKey, auditFile } = access;
  const given = options.config as { auth?: Record<string, unknown>; audit?: Record<string, unknown> };
  const config = {
    ...options.config,
    auth: { ...access.auth, ...given.auth },
    audit: { ...access.audit, ...given.audit },
  };
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const env = options.env ?? {};
  registerSecrets([...Object.values(env).filter((v): v is string => typeof v === 'string'), ...(options.secrets ?? []), signingKey, auditKey]);
  const { config: loaded } = loadConfig({ configPath, env });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const gateway = await buildGateway(loaded, { logger, env, ...(options.https ? { https: options.https } : {}) });
  const contractProblems = recordContractViolations(gateway.app);
  options.beforeReady?.(gateway.app);
  await gateway.app.ready();
  // Route schemas compile on first use (src/http/lazy-schemas.ts): compile them all now, so a broken one fails the test.
  gateway.compileSchemas();

  const audience = (config.auth as { audience?: string | string[] }).audience;
  const issuer = (config.auth as { issuer?: string | string[] }).issuer;
  const token: TestGateway['token'] = (scopes = READ_ALL, claims = {}, ttlSeconds = 600) =>
    access.token(scopes, { ...(audience ? { aud: Array.isArray(audience) ? audience[0] : audience } : {}), ...(issuer ? { iss: Array.isArray(issuer) ? issuer[0] : issuer } : {}), ...claims }, ttlSeconds);
  const defaultToken = token();
  let closed = false;

  return {
    ...gateway,
    dir,
    logs,
    contractProblems,
    auditFile,
    auditEvents: () =>
      readFileSync(auditFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    token,
    inject: (request) => {
      const headers = { ...(request.headers as Record<string, string> | undefined) };
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) headers.authorization = `Bearer ${defaultToken}`;
      return gateway.app.inject({ ...request, headers } as InjectOptions);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await gateway.app.close();
      keepLog(path.basename(dir), logs.join(''));
    },
  };
}
