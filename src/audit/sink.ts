// Where audit events go: a file (appended, mode 0600, one hash chain that
// continues across restarts) or stdout. Writes are buffered by the stream, off
// the request path, a few milliseconds at a time; close() flushes. The first line of every start is written
// synchronously, so a sink that cannot be written is known before serving.
// After a write fails the sink is unhealthy: requests are refused (fail closed)
// unless `audit.on_failure: serve`.
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync, createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { chainLine, stateAfter, GENESIS, type ChainState } from './chain.ts';

export interface AuditSink {
  /** Appends one event (the chain fields are added here). */
  write(event: object): void;
  /** false once a write has failed. */
  readonly healthy: boolean;
  /** Events that could not be written (after a failure). */
  readonly dropped: number;
  close(): Promise<void>;
}

/** Buffered events wait at most this long (or until there are this many) before they are written. */
const FLUSH_INTERVAL_MS = 5;
const FLUSH_EVENTS = 256;

class StreamSink implements AuditSink {
  healthy = true;
  dropped = 0;
  private state: ChainState;
  private readonly stream: Writable;
  private readonly logger: Logger;
  private readonly ownsStream: boolean;

  constructor(stream: Writable, state: ChainState, logger: Logger, ownsStream: boolean) {
    this.stream = stream;
    this.state = state;
    this.logger = logger;
    this.ownsStream = ownsStream;
    stream.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
  }

  fail(err: NodeJS.ErrnoException): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.logger.error({ code: err.code ?? err.name }, 'audit sink write failed; audit events are being lost');
  }

  write(event: object): void {
    if (!this.healthy || this.stream.destroyed || this.stream.writableEnded) {
      this.dropped++;
      return;
    }
    // Events are gathered for a few milliseconds, then chained, serialized and written together: one
    // write(2) per hundreds of events instead of one per event-loop turn, and the serializing and
    // hashing run in one tight loop (about half their cost when done one event per request).
    this.pending.push(event);
    if (this.pending.length >= FLUSH_EVENTS) this.flush();
    else this.flushTimer ??= setTimeout(this.flush, FLUSH_INTERVAL_MS);
  }

  private pending: object[] = [];
  private flushTimer: NodeJS.Timeout | undefined;

  private readonly flush = (): void => {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || this.stream.destroyed || this.stream.writableEnded) return;
    const events = this.pending;
    this.pending = [];
    let chunk = '';
    for (const event of events) {
      const { line, state } = chainLine(event, this.state);
      this.state = state;
      chunk += line;
    }
    this.stream.write(chunk);
  };

  async close(): Promise<void> {
    this.flush();
    if (!this.ownsStream) return;
    if (this.stream.destroyed || this.stream.writableEnded) return;
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
  }
}

const startEvent = () => ({ type: 'audit_start', time: new Date().toISOString(), pid: process.pid });

/** The last complete line of a regular file (reads only its tail). */
function lastLine(fd: number): string | undefined {
  const stat = fstatSync(fd);
  if (!stat.isFile() || stat.size === 0) return undefined;
  const length = Math.min(stat.size, 64 * 1024);
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, stat.size - length);
  const lines = buf.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines[lines.length - 1];
}

/** Opens the audit file, continuing its chain; throws when it cannot be opened or written. */
export function openFileSink(file: string, logger: Logger): AuditSink {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const readFd = openSync(file, 'a+', 0o600);
  let state: ChainState;
  try {
    state = stateAfter(lastLine(readFd));
  } finally {
    closeSync(readFd);
  }
  const fd = openSync(file, 'a', 0o600);
  const { line, state: afterStart } = chainLine(startEvent(), state);
  try {
    writeSync(fd, line);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const stream: WriteStream = createWriteStream('', { fd, flags: 'a', autoClose: true });
  return new StreamSink(stream, afterStart, logger, true);
}

/** Audit lines on stdout (the application log must then go elsewhere: serve moves it to stderr). */
export function openStdoutSink(logger: Logger): AuditSink {
  const sink = new StreamSink(process.stdout, { seq: 0, hash: GENESIS }, logger, false);
  sink.write(startEvent());
  return sink;
}
