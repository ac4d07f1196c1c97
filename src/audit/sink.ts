// Where audit events go: a file (appended, mode 0600, one hash chain that
// continues across restarts) or stdout. Events are written after the response,
// a few milliseconds' worth at a time; close() flushes. The first line of every start is written
// synchronously, so a sink that cannot be written is known before serving.
// After a write fails the sink is unhealthy: requests are refused (fail closed)
// unless `audit.on_failure: serve`.
import { closeSync, createWriteStream, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import path from 'node:path';
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

/** Chains events and hands their lines, a batch at a time, to `writeChunk` (which throws when it fails). */
class BatchingSink implements AuditSink {
  healthy = true;
  dropped = 0;
  private state: ChainState;
  private readonly writeChunk: (chunk: string) => void;
  private readonly onClose: () => Promise<void>;
  private readonly logger: Logger;
  private pending: object[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(state: ChainState, writeChunk: (chunk: string) => void, onClose: () => Promise<void>, logger: Logger) {
    this.state = state;
    this.writeChunk = writeChunk;
    this.onClose = onClose;
    this.logger = logger;
  }

  fail(err: NodeJS.ErrnoException): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.logger.error({ code: err.code ?? err.name }, 'audit sink write failed; audit events are being lost');
  }

  write(event: object): void {
    if (!this.healthy || this.closed) {
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

  private readonly flush = (): void => {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || !this.healthy) return;
    const events = this.pending;
    this.pending = [];
    let chunk = '';
    for (const event of events) {
      const { line, state } = chainLine(event, this.state);
      this.state = state;
      chunk += line;
    }
    try {
      this.writeChunk(chunk);
    } catch (err) {
      this.dropped += events.length;
      this.fail(err as NodeJS.ErrnoException);
    }
  };

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await this.onClose();
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
  // A regular file gets one synchronous write(2) per batch: appending a few tens of kB to it costs less
  // than handing the batch to a WriteStream (whose thread-pool round trip costs ~5x the CPU, measured),
  // an error is known at once (the sink fails closed on the next request), and a batch is never half
  // written when the process stops. A FIFO to a collector can block, so it keeps an asynchronous stream.
  if (fstatSync(fd).isFile()) return new BatchingSink(afterStart, (chunk) => writeSync(fd, chunk), async () => closeSync(fd), logger);
  return streamSink(createWriteStream('', { fd, flags: 'a', autoClose: true }), afterStart, logger, true);
}

/** Audit lines on stdout (the application log must then go elsewhere: serve moves it to stderr). */
export function openStdoutSink(logger: Logger): AuditSink {
  const sink = streamSink(process.stdout, { seq: 0, hash: GENESIS }, logger, false);
  sink.write(startEvent());
  return sink;
}

/** A sink over a stream that may block (a pipe): written asynchronously; its errors arrive as events. */
function streamSink(stream: Writable, state: ChainState, logger: Logger, ownsStream: boolean): AuditSink {
  const sink = new BatchingSink(
    state,
    (chunk) => {
      if (stream.destroyed || stream.writableEnded) throw Object.assign(new Error('audit stream closed'), { code: 'ERR_STREAM_DESTROYED' });
      stream.write(chunk);
    },
    async () => {
      if (!ownsStream || stream.destroyed || stream.writableEnded) return;
      await new Promise<void>((resolve) => stream.end(() => resolve()));
    },
    logger,
  );
  // A failed sink writes nothing more (flush checks `healthy`).
  stream.on('error', (err: NodeJS.ErrnoException) => sink.fail(err));
  return sink;
}
