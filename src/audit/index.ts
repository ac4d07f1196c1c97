// Opens the audit log for a gateway: the sink and the fingerprint key.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.ts';
import { readOrCreateSecretFile, STATE_DIR } from '../support/state-dir.ts';
import type { AuditConfig } from './config.ts';
import { Fingerprinter } from './events.ts';
import { isoNow } from '../support/iso-time.ts';
import { openFileSink, openStdoutSink, type AuditSink, type AuditSinkObserver } from './sink.ts';

export interface Audit {
  sink: AuditSink;
  fingerprint: Fingerprinter;
  /** Refuse requests once the sink fails (fail closed). */
  failClosed: boolean;
}

/** The audit log's file (default ./.secrets-gateway/audit.log in the working directory). */
export function auditLogPath(config: AuditConfig, baseDir: string): string {
  return config.file ? path.resolve(baseDir, config.file) : path.resolve(STATE_DIR, 'audit.log');
}

/**
 * The fingerprint key, checked as `serve` checks it (`config check` calls this too, so the two refuse
 * the same keys with the same message). `create`: make a missing key file (serve); without it a
 * missing file is null, since serve would create it (config check writes nothing).
 */
export function readAuditKey(config: AuditConfig, baseDir: string, env: NodeJS.ProcessEnv, create: boolean): string | null {
  let key: string;
  if (config.key_env) {
    key = env[config.key_env] ?? '';
    if (!key) throw new ConfigError('audit.key_env', `environment variable ${config.key_env} is not set`);
  } else {
    const file = config.key_file ? path.resolve(baseDir, config.key_file) : path.resolve(STATE_DIR, 'audit-key');
    if (!create && !existsSync(file)) return null;
    key = readOrCreateSecretFile(file, () => randomBytes(32).toString('base64url'), 'audit.key_file');
  }
  if (Buffer.byteLength(key) < 32) throw new ConfigError(config.key_env ? 'audit.key_env' : 'audit.key_file', 'the audit key must be at least 32 bytes');
  return key;
}

export function openAudit(config: AuditConfig, baseDir: string, env: NodeJS.ProcessEnv, logger: Logger, observer?: AuditSinkObserver): Audit {
  const fingerprint = new Fingerprinter(Buffer.from(readAuditKey(config, baseDir, env, true)!));
  const failClosed = config.on_failure === 'refuse';
  const file = auditLogPath(config, baseDir);
  let sink: AuditSink;
  try {
    sink = config.sink === 'stdout' ? openStdoutSink(logger, observer) : openFileSink(file, logger, { rotate: config.rotate, ...(observer ? { observer } : {}) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (failClosed) throw new ConfigError('audit.file', `cannot write the audit log ${file}: ${code} (set audit.on_failure: serve to run without it)`);
    logger.error({ file, code }, 'cannot write the audit log; serving WITHOUT an audit trail (audit.on_failure: serve)');
    const since = isoNow();
    sink = { write() {}, healthy: false, dropped: 0, status: () => ({ state: 'failing', error: code, since, queued: 0, dropped: 0 }), reopen() {}, close: async () => {} };
  }
  return { sink, fingerprint, failClosed };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Closes and reopens the audit file (`serve` calls it on SIGHUP, after logrotate renamed the file). */
    reopenAuditLog(): void;
  }
}
