// Where audit events go: a file (appended, mode 0600, one hash chain that
// continues across restarts and rotations) or stdout. Events are written after
// the response, a few milliseconds' worth at a time; close() flushes. The first
// line of every start is written synchronously, so a sink that cannot be written
// is known before serving.
//
// The file sink survives faults: a failed or short write keeps the bytes it did
// not write and the events that came after, and retries with backoff; the first
// write that succeeds completes the cut line, writes the backlog and an
// `audit_resumed` event, and the sink is healthy again. While it fails, requests
// are refused (fail closed) unless `audit.on_failure: serve`, and /readyz says so.
// A line left torn by a process that died meanwhile is repaired at the next start
// (`audit_recovered`). Rotation (size, or a reopen on SIGHUP) starts each new file
// with an `audit_rotated` event that continues the chain.
import { isoNow } from '../support/iso-time.ts';
import { closeSync, createWriteStream, fstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import path from 'node:path';
import type { Logger } from 'pino';
import { appendChainLine, chainLine, readLine, recoveredEvent, stateAfter, GENESIS, type ChainState } from './chain.ts';

export interface AuditSinkStatus {
  state: 'ok' | 'failing';
  /** The error code of the last failed write (while failing). */
  error?: string;
  /** When the sink started failing. */
  since?: string;
  /** Events waiting to be written (while failing). */
  queued: number;
  /** Events lost since start (the backlog was full, or the sink failed for good). */
  dropped: number;
}

export interface AuditSink {
  /** Appends one event (the chain fields are added here). */
  write(event: object): void;
  /** false while writes fail. */
  readonly healthy: boolean;
  /** Events that could not be written. */
  readonly dropped: number;
  status(): AuditSinkStatus;
  /** Closes and reopens the file (SIGHUP, after logrotate renamed it); the new file continues the chain. */
  reopen(): void;
  close(): Promise<void>;
}

/** What the sink reports to the metrics. */
export interface AuditSinkObserver {
  failure(code: string): void;
  dropped(events: number): void;
  rotated(reason: 'size' | 'reopen'): void;
}

export interface FileSinkOptions {
  rotate: { max_bytes: number; keep: number } | false;
  observer?: AuditSinkObserver;
  /** Events kept while the sink fails (default MAX_BACKLOG). */
  maxBacklog?: number;
}

/** The file sink's default rotation: 100 MiB files, 9 kept: at most 1 GiB of audit log. */
export const DEFAULT_ROTATE = { max_bytes: 100 * 1024 * 1024, keep: 9 } as const;

/** Buffered events wait at most this long (or until there are this many) before they are written. */
const FLUSH_INTERVAL_MS = 5;
const FLUSH_EVENTS = 256;
/** One write(2) carries at most about this much (a backlog after a failure is written in several). */
const MAX_CHUNK_BYTES = 1024 * 1024;
/** A failing file sink retries after 100 ms, doubling up to 2 s: it serves again within 2 s of the disk being freed. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
/** Events kept while the sink fails (about 6 MB); beyond, they are dropped and counted (audit_resumed says how many). */
const MAX_BACKLOG = 10_000;

const startEvent = () => ({ type: 'audit_start', time: isoNow(), pid: process.pid });
const errorCode = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? 'EIO';

/**
 * The tail of a regular file: its last complete line, and the bytes after the last newline
 * when the file does not end with one (a torn write).
 */
function readTail(fd: number): { lastLine: string | undefined; torn: Buffer | null } {
  const stat = fstatSync(fd);
  if (!stat.isFile() || stat.size === 0) return { lastLine: undefined, torn: null };
  const length = Math.min(stat.size, 1024 * 1024);
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, stat.size - length);
  let end = buf.length;
  let torn: Buffer | null = null;
  if (buf[end - 1] !== 10) {
    const nl = buf.lastIndexOf(10);
    torn = buf.subarray(nl + 1);
    end = nl + 1;
  }
  if (end < 2) return { lastLine: undefined, torn };
  const start = buf.lastIndexOf(10, end - 2) + 1;
  return { lastLine: buf.subarray(start, end - 1).toString('utf8'), torn };
}

/**
 * The file sink. Everything runs on the event loop, synchronously (one write(2) per batch):
 * a rotation or a reopen happens between two batches, so no event is lost or written twice.
 */
class FileAuditSink implements AuditSink {
  dropped = 0;
  private fd: number;
  private ino: number;
  private size: number;
  private state: ChainState;
  /** Chained bytes not written yet (after a failed or short write): they go first, so a cut line is completed. */
  private unwritten: Buffer | null = null;
  /** Events not chained yet. */
  private queue: object[] = [];
  /** A new file is due before the next line: after a rotation or on reopen. */
  private pendingOpen: { reason: 'size' | 'reopen'; previous: string | null } | null = null;
  /** A rotation or a reopen that a failure interrupted: done first when writes succeed again. */
  private rotationDue = false;
  private reopenDue = false;
  private failure: { code: string; since: string; delayMs: number; droppedBefore: number } | null = null;
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private readonly file: string;
  private readonly options: FileSinkOptions;
  private readonly logger: Logger;

  constructor(file: string, fd: number, state: ChainState, options: FileSinkOptions, logger: Logger) {
    this.file = file;
    this.options = options;
    this.logger = logger;
    this.fd = fd;
    const stat = fstatSync(fd);
    this.ino = stat.ino;
    this.size = stat.size;
    this.state = state;
  }

  get healthy(): boolean {
    return this.failure === null;
  }

  status(): AuditSinkStatus {
    const f = this.failure;
    return f ? { state: 'failing', error: f.code, since: f.since, queued: this.queue.length, dropped: this.dropped } : { state: 'ok', queued: 0, dropped: this.dropped };
  }

  /** Writes the first lines of this start (synchronously: a failure here stops startup). */
  start(firstLines: string): void {
    this.unwritten = Buffer.from(firstLines);
    this.writeUnwritten();
  }

  write(event: object): void {
    if (this.closed) return this.drop(1);
    if (this.failure) {
      if (this.queue.length >= (this.options.maxBacklog ?? MAX_BACKLOG)) return this.drop(1);
      this.queue.push(event);
      return;
    }
    // Events are gathered for a few milliseconds, then chained, serialized and written together: one
    // write(2) per hundreds of events instead of one per event-loop turn, and the serializing and
    // hashing run in one tight loop (about half their cost when done one event per request).
    this.queue.push(event);
    if (this.queue.length >= FLUSH_EVENTS) this.flush();
    else this.flushTimer ??= setTimeout(this.flush, FLUSH_INTERVAL_MS);
  }

  private drop(n: number): void {
    this.dropped += n;
    this.options.observer?.dropped(n);
  }

  private readonly flush = (): void => {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.failure || (this.queue.length === 0 && !this.reopenDue)) return; // a failing sink: the retry writes
    try {
      this.drain();
    } catch (err) {
      this.fail(err);
    }
  };

  /** Writes what is pending: cut bytes, a new file's first line, then the queue (rotating on the way). Throws on a failed write. */
  private drain(): void {
    this.writeUnwritten();
    if (this.reopenDue) this.closeForReopen();
    if (this.rotationDue) this.rotateFiles();
    if (this.pendingOpen) this.openNext();
    const limit = this.options.rotate ? this.options.rotate.max_bytes : Infinity;
    const next: ChainState = { seq: 0, hash: '' };
    while (this.queue.length > 0) {
      // The batch's lines are chained straight into one buffer (appendChainLine) and written from it.
      let bytes = 0;
      let taken = 0;
      let rotate = false;
      for (; taken < this.queue.length && bytes < MAX_CHUNK_BYTES; taken++) {
        const event = this.queue[taken]!;
        let end: number;
        while ((end = appendChainLine(this.chunk, bytes, event, this.state, next)) < 0) this.growChunk(bytes);
        // Rotate before a file would pass max_bytes (a file holding only its first line takes one more, however long).
        if (this.size + end > limit && this.size + bytes > this.firstLineBytes) {
          rotate = true;
          break;
        }
        bytes = end;
        this.state = { seq: next.seq, hash: next.hash };
      }
      this.queue = taken === this.queue.length ? [] : this.queue.slice(taken);
      if (bytes > 0) {
        this.unwritten = this.chunk.subarray(0, bytes);
        try {
          this.writeUnwritten();
        } finally {
          // Bytes a failed write left are kept apart: the chunk is written over by the next batch.
          if (this.unwritten) this.unwritten = Buffer.from(this.unwritten);
        }
      }
      if (rotate) {
        this.rotationDue = true;
        this.rotateFiles();
        this.openNext();
      }
    }
  }

  /** The buffer a batch's lines are built in (grown for a long line, kept between batches). */
  private chunk = Buffer.allocUnsafe(128 * 1024);

  private growChunk(keep: number): void {
    const bigger = Buffer.allocUnsafe(this.chunk.length * 2);
    this.chunk.copy(bigger, 0, 0, keep);
    this.chunk = bigger;
  }

  /** The size of a new file's first line (rotation never leaves a file with only that line). */
  private firstLineBytes = 0;

  private writeUnwritten(): void {
    while (this.unwritten) {
      const n = writeSync(this.fd, this.unwritten);
      if (n <= 0) throw Object.assign(new Error('audit write wrote nothing'), { code: 'EIO' });
      this.size += n;
      this.unwritten = n >= this.unwritten.length ? null : this.unwritten.subarray(n);
    }
  }

  /** file → file.1 → … → file.keep; the oldest beyond `keep` is deleted. Safe to repeat after a failure. */
  private rotateFiles(): void {
    const { keep } = this.options.rotate as { keep: number };
    const name = (i: number) => `${this.file}.${i}`;
    // Done already if the file at our path is no longer ours (a retry after a failure half-way).
    let current: number | undefined;
    try {
      current = statSync(this.file).ino;
    } catch {
      current = undefined;
    }
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    if (current === this.ino) {
      rmSync(name(keep), { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        try {
          renameSync(name(i), name(i + 1));
        } catch (err) {
          if (errorCode(err) !== 'ENOENT') throw err;
        }
      }
      renameSync(this.file, name(1));
      this.options.observer?.rotated('size');
    }
    this.rotationDue = false;
    this.pendingOpen = { reason: 'size', previous: path.basename(name(1)) };
  }

  /** Opens the file at our path and writes its first line: an `audit_rotated` event that continues the chain. */
  private openNext(): void {
    const open = this.pendingOpen!;
    if (this.fd < 0) {
      this.fd = openSync(this.file, 'a', 0o600);
      const stat = fstatSync(this.fd);
      this.ino = stat.ino;
      this.size = stat.size;
    }
    const { line, state } = chainLine({ type: 'audit_rotated', time: isoNow(), reason: open.reason, previous: open.previous }, this.state);
    this.state = state;
    this.pendingOpen = null;
    this.unwritten = Buffer.from(line);
    this.firstLineBytes = this.size + this.unwritten.length;
    this.writeUnwritten();
  }

  reopen(): void {
    if (this.closed) return;
    // What came before the signal goes to the file as it was (renamed by logrotate, still open here);
    // while the sink fails, the retry completes that file first and then reopens.
    this.flush();
    this.reopenDue = true;
    if (!this.failure) this.flush();
  }

  private closeForReopen(): void {
    const previous = this.currentName();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.reopenDue = false;
    this.pendingOpen = { reason: 'reopen', previous };
    this.options.observer?.rotated('reopen');
  }

  /** The name of the open file now (it may have been renamed), for the `audit_rotated` event; null when it is gone. */
  private currentName(): string | null {
    if (this.fd < 0) return null;
    const dir = path.dirname(this.file);
    try {
      for (const name of readdirSync(dir)) {
        try {
          if (statSync(path.join(dir, name)).ino === this.ino) return name;
        } catch {
          // removed meanwhile
        }
      }
    } catch {
      // an unreadable directory: no name
    }
    return null;
  }

  private fail(err: unknown): void {
    const code = errorCode(err);
    this.options.observer?.failure(code);
    if (!this.failure) {
      this.failure = { code, since: isoNow(), delayMs: RETRY_MIN_MS, droppedBefore: this.dropped };
      this.logger.error({ code, file: this.file }, 'audit sink write failed; retrying (requests are refused meanwhile unless audit.on_failure: serve)');
    } else {
      this.failure.code = code;
      this.failure.delayMs = Math.min(this.failure.delayMs * 2, RETRY_MAX_MS);
    }
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(this.retry, this.failure.delayMs);
    this.retryTimer.unref();
  }

  private readonly retry = (): void => {
    this.retryTimer = undefined;
    const failure = this.failure;
    if (!failure) return;
    try {
      this.drain();
    } catch (err) {
      this.fail(err);
      return;
    }
    this.failure = null;
    const dropped = this.dropped - failure.droppedBefore;
    this.logger.warn({ code: failure.code, since: failure.since, dropped }, 'audit sink writes again');
    // The outage, in the chain: when it began, why, and how many events it cost.
    this.queue.push({ type: 'audit_resumed', time: isoNow(), failed_since: failure.since, error: failure.code, dropped });
    this.flush();
  };

  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.flushTimer);
    clearTimeout(this.retryTimer);
    this.closed = true;
    try {
      this.drain();
    } catch (err) {
      const lost = this.queue.length + (this.unwritten ? 1 : 0);
      this.logger.error({ code: errorCode(err), lost }, 'audit sink: events could not be written at shutdown');
      this.drop(this.queue.length);
    }
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Opens the audit file, continuing its chain; throws when it cannot be opened or written.
 * A torn last line (a write cut by a crash or a full disk) is terminated and recorded by an
 * `audit_recovered` event (the SHA-256 of its bytes); the chain continues from the last whole line.
 */
export function openFileSink(file: string, logger: Logger, options: FileSinkOptions = { rotate: false }): AuditSink {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const readFd = openSync(file, 'a+', 0o600);
  let tail: ReturnType<typeof readTail>;
  try {
    tail = readTail(readFd);
  } finally {
    closeSync(readFd);
  }
  let state = stateAfter(tail.lastLine);
  let first = '';
  if (tail.torn) {
    const whole = readLine(tail.torn.toString('utf8'));
    if (whole?.intact) {
      first = '\n'; // only the newline was cut
      state = { seq: whole.seq, hash: whole.hash };
    } else {
      const recovered = chainLine(recoveredEvent(tail.torn, isoNow()), state);
      first = `\n${recovered.line}`;
      state = recovered.state;
      logger.warn({ file, torn_bytes: tail.torn.length }, 'audit log: repaired a torn last line (audit_recovered)');
    }
  }
  const fd = openSync(file, 'a', 0o600);
  const start = chainLine(startEvent(), state);
  // A regular file gets one synchronous write(2) per batch: appending a few tens of kB to it costs less
  // than handing the batch to a WriteStream (whose thread-pool round trip costs several times the CPU: see
  // bench/optimization-log.md, "Figures quoted in code comments"),
  // an error is known at once, and a batch is never half written when the process stops. A FIFO to a
  // collector can block, so it keeps an asynchronous stream (and no rotation).
  if (fstatSync(fd).isFile()) {
    const sink = new FileAuditSink(file, fd, start.state, options, logger);
    try {
      sink.start(first + start.line);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return sink;
  }
  try {
    writeSync(fd, start.line);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return streamSink(createWriteStream('', { fd, flags: 'a', autoClose: true }), start.state, logger, true, options.observer);
}

/** Audit lines on stdout (the application log must then go elsewhere: serve moves it to stderr). */
export function openStdoutSink(logger: Logger, observer?: AuditSinkObserver): AuditSink {
  const sink = streamSink(process.stdout, { seq: 0, hash: GENESIS }, logger, false, observer);
  sink.write(startEvent());
  return sink;
}

/** A sink over a stream that may block (a pipe): written asynchronously; an error (the reader gone) is final. */
function streamSink(stream: Writable, initial: ChainState, logger: Logger, ownsStream: boolean, observer?: AuditSinkObserver): AuditSink {
  let state = initial;
  let pending: object[] = [];
  let timer: NodeJS.Timeout | undefined;
  let failed: { code: string; since: string } | null = null;
  let closed = false;
  const sink = {
    dropped: 0,
    get healthy() {
      return failed === null;
    },
    status: (): AuditSinkStatus => (failed ? { state: 'failing', error: failed.code, since: failed.since, queued: 0, dropped: sink.dropped } : { state: 'ok', queued: 0, dropped: sink.dropped }),
    write(event: object) {
      if (failed || closed) {
        sink.dropped++;
        observer?.dropped(1);
        return;
      }
      pending.push(event);
      if (pending.length >= FLUSH_EVENTS) flush();
      else timer ??= setTimeout(flush, FLUSH_INTERVAL_MS);
    },
    reopen() {},
    async close() {
      if (closed) return;
      flush();
      closed = true;
      if (!ownsStream || stream.destroyed || stream.writableEnded) return;
      await new Promise<void>((resolve) => stream.end(() => resolve()));
    },
  };
  const fail = (err: unknown) => {
    if (failed) return;
    failed = { code: errorCode(err), since: isoNow() };
    observer?.failure(failed.code);
    logger.error({ code: failed.code }, 'audit sink write failed; audit events are being lost');
  };
  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0 || failed) return;
    const events = pending;
    pending = [];
    let chunk = '';
    for (const event of events) {
      const next = chainLine(event, state);
      state = next.state;
      chunk += next.line;
    }
    if (stream.destroyed || stream.writableEnded) {
      sink.dropped += events.length;
      fail(Object.assign(new Error('audit stream closed'), { code: 'ERR_STREAM_DESTROYED' }));
      return;
    }
    stream.write(chunk);
  }
  // A failed sink writes nothing more (flush checks `failed`).
  stream.on('error', (err: NodeJS.ErrnoException) => fail(err));
  return sink;
}
