// `secrets-gateway config check`: everything `serve` does with a configuration before it listens,
// in the same order and with the same errors, except what reaches the network or writes: the
// signing keys are read (files, environment variables), the audit key and log are checked, and
// every backend is built, which runs its own checks (credentials, prefixes, Fernet keys). A file
// that passes starts; test/integration/config-check.test.ts holds the two to that on a corpus.
// `--connect` then does what startup does next: each backend's init (logins, first reads).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { buildChain } from '../app.ts';
import type { AuditConfig } from '../audit/config.ts';
import { auditLogPath, readAuditKey } from '../audit/index.ts';
import { TokenVerifier } from '../auth/verify.ts';
import type { BackendChain, BackendReport } from '../backends/chain.ts';
import { checkServeConfig } from '../serve.ts';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load.ts';
import type { GatewayConfig } from './schema.ts';

/**
 * What opening the audit log (src/audit/index.ts) would refuse, checked without writing: the key
 * (a configured key file that does not exist yet is created by `serve`, so it passes here) and,
 * when a refused write stops startup (`on_failure: refuse`), that the log can be written.
 */
function checkAudit(config: AuditConfig, baseDir: string, env: NodeJS.ProcessEnv): void {
  readAuditKey(config, baseDir, env, false);
  if (config.sink === 'stdout' || config.on_failure !== 'refuse') return;
  const file = auditLogPath(config, baseDir);
  // The file, or else the nearest directory that exists (serve creates the missing ones).
  let target = file;
  while (!existsSync(target) && path.dirname(target) !== target) target = path.dirname(target);
  const refuse = (code: string) => new ConfigError('audit.file', `cannot write the audit log ${file}: ${code} (set audit.on_failure: serve to run without it)`);
  const isDirectory = statSync(target).isDirectory();
  // The codes serve's mkdir/open would fail with: a file where a directory goes, a directory where the file goes.
  if (target !== file && !isDirectory) throw refuse('EEXIST');
  if (target === file && isDirectory) throw refuse('EISDIR');
  try {
    accessSync(target, constants.W_OK);
  } catch (err) {
    throw refuse((err as NodeJS.ErrnoException).code ?? 'error');
  }
}

export interface CheckedConfig {
  config: GatewayConfig;
  warnings: string[];
  /** The backends, built and not started: close() it, or init() it to connect. */
  chain: BackendChain;
}

/** Loads and checks a configuration as `serve` would; throws the ConfigError `serve` would exit 2 with. */
export async function checkConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<CheckedConfig> {
  const { config, warnings } = loadConfig({ configPath: file, env });
  checkServeConfig(config);
  const logger = pino({ level: 'silent' });
  // Without an auth section, serve makes its own dev key (loopback only, checked above): nothing to read.
  if (config.auth) new TokenVerifier(config.auth, config.baseDir, env, logger);
  // Dev mode too opens the audit log.
  checkAudit(config.audit, config.baseDir, env);
  const chain = await buildChain(config, { logger, env });
  return { config, warnings, chain };
}

/** `--connect`: each backend initialised as at startup, and its state. */
export async function connectBackends(chain: BackendChain): Promise<BackendReport[]> {
  await chain.init();
  return chain.statuses();
}
