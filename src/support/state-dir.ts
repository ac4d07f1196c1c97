// Files the gateway creates for itself when they are not configured: the dev
// signing key, the audit key and the audit log, in ./.secrets-gateway/ (mode 0700,
// files 0600), or in $SECRETS_GATEWAY_STATE_DIR (the image sets /tmp/secrets-gateway,
// as its root filesystem is read-only).
import { mkdirSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/errors.ts';

/** Relative to the working directory, as `npm start` runs, unless SECRETS_GATEWAY_STATE_DIR says otherwise. */
export const STATE_DIR = process.env.SECRETS_GATEWAY_STATE_DIR || './.secrets-gateway';

/** Reads a secret file, creating it with `make()` (mode 0600) when it does not exist. Safe against a concurrent creator. */
export function readOrCreateSecretFile(file: string, make: () => string, keyPath: string): string {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, `${make()}\n`);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(keyPath, `cannot read or create ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
