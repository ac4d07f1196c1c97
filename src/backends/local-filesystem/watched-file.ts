// A parsed file that follows the file on disk. Readers always get the last
// content that parsed; a change is picked up by a directory watch (which also
// sees the `..data` symlink swap Kubernetes does for mounted Secrets) and by a
// poll (for targets outside the watched directory and for missed events).
// A reload reads the file only once its size and times have stopped moving, and
// re-checks them after reading, so a half-written file is never parsed as final.
import { EventEmitter } from 'node:events';
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { followFiles, statSignature } from '../../support/follow-files.ts';

export interface WatchedFileOptions<T> {
  filePath: string;
  parse: (fileName: string, content: string) => T;
  logger: Logger;
  pollIntervalMs: number;
  /** How long a changed file must stay unchanged before it is read. */
  settleMs?: number;
}

export interface WatchedFileError {
  code: string;
  message: string;
}

const signature = statSignature;

export class WatchedFile<T> extends EventEmitter {
  readonly filePath: string;
  private readonly options: WatchedFileOptions<T>;
  private value: T | undefined;
  private loadedSignature: string | undefined;
  private lastError: WatchedFileError | undefined;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private stopFollowing: (() => void) | undefined;
  private closed = false;

  constructor(options: WatchedFileOptions<T>) {
    super();
    this.options = options;
    this.filePath = options.filePath;
  }

  /** Loads the file once and starts following it. Never throws: a problem is reported by error(). */
  async start(): Promise<void> {
    await this.check();
    if (this.closed) return;
    this.stopFollowing = followFiles([this.filePath], () => void this.check(), { pollMs: this.options.pollIntervalMs, settleMs: 10 });
  }

  /** The last content that parsed, or undefined if none ever did. */
  current(): T | undefined {
    return this.value;
  }

  error(): WatchedFileError | undefined {
    return this.lastError;
  }

  close(): void {
    this.closed = true;
    this.stopFollowing?.();
  }

  /** Re-reads the file if it changed. Concurrent calls share one reload, and a change seen during it triggers one more. */
  check(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      do {
        this.again = false;
        await this.reloadIfChanged();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async reloadIfChanged(): Promise<void> {
    const settleMs = this.options.settleMs ?? 25;
    for (let attempt = 0; attempt < 20; attempt++) {
      let before: Stats;
      try {
        before = await stat(this.filePath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        this.fail({ code: code === 'ENOENT' ? 'file_not_found' : 'file_unreadable', message: `${this.filePath}: ${code ?? 'cannot stat'}` }, undefined);
        return;
      }
      const sig = signature(before);
      if (sig === this.loadedSignature) return;
      if (this.loadedSignature !== undefined || attempt > 0) {
        // A change: let a writer finish before reading.
        await sleep(settleMs);
        const settled = await stat(this.filePath).catch(() => undefined);
        if (!settled || signature(settled) !== sig) continue;
      }
      let content: string;
      try {
        content = await readFile(this.filePath, 'utf8');
      } catch (err) {
        this.fail({ code: 'file_unreadable', message: `${this.filePath}: ${(err as NodeJS.ErrnoException).code ?? 'cannot read'}` }, undefined);
        return;
      }
      const after = await stat(this.filePath).catch(() => undefined);
      if (!after || signature(after) !== sig) continue; // changed while reading: read again
      try {
        const parsed = this.options.parse(path.basename(this.filePath), content);
        this.value = parsed;
        this.loadedSignature = sig;
        if (this.lastError) this.options.logger.info({ file: this.filePath }, 'file parses again; serving its new content');
        this.lastError = undefined;
        this.emit('change');
      } catch (err) {
        // The parser's message names the file, the key and the line, never a value.
        const e = err as { code?: unknown; message?: unknown };
        this.fail({ code: typeof e.code === 'string' ? e.code : 'parse_error', message: String(e.message ?? 'parse error') }, sig);
      }
      return;
    }
  }

  private fail(error: WatchedFileError, sig: string | undefined): void {
    // Remember a bad version so it is not re-parsed (and re-logged) until it changes again.
    if (sig !== undefined) this.loadedSignature = sig;
    else this.loadedSignature = undefined;
    const isNew = this.lastError?.message !== error.message;
    this.lastError = error;
    if (isNew && !this.closed) {
      this.options.logger.error(
        { file: this.filePath, code: error.code, err_message: error.message },
        this.value === undefined ? 'file cannot be loaded' : 'file changed but cannot be loaded; still serving its last good content',
      );
    }
  }
}
