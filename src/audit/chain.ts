// The audit log's hash chain. Each line is a JSON object whose last two fields
// are `prev` (the previous line's hash) and `hash` (SHA-256 of the line's own
// text up to, and without, `,"hash":…`). Editing a line breaks its hash;
// deleting one breaks the next line's `prev` and `seq`. The chain runs on across
// rotated files: a new file's first line (`audit_rotated`) follows the last line
// of the file before it. Pure functions, shared by the writer and
// `secrets-gateway audit verify`.
import { hash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export interface ChainState {
  seq: number;
  hash: string;
}

// The one-shot hash: about half the cost of createHash().update().digest() for a line this size.
const sha256 = (s: string | Buffer): string => hash('sha256', s, 'hex');

/** Scratch space for chainLine (the process is single-threaded, and each call is done with it before it returns). */
let scratch = Buffer.allocUnsafe(4096);

/** One chained line (with its newline) for `event`, and the chain's new state: appendChainLine's text, as a string. */
export function chainLine(event: object, state: ChainState): { line: string; state: ChainState } {
  const next: ChainState = { seq: 0, hash: '' };
  let end = appendChainLine(scratch, 0, event, state, next);
  while (end < 0) {
    scratch = Buffer.allocUnsafe(scratch.length * 2);
    end = appendChainLine(scratch, 0, event, state, next);
  }
  return { line: scratch.toString('utf8', 0, end), state: next };
}

/**
 * Writes the chained line of `event` (with its newline) into `out` at
 * byte `at`, and the chain's new state into `next`; returns the line's end, or -1 when `out` might be
 * too small (nothing written that counts: grow it and ask again). The line is built where it lies:
 * no copy of the event, no intermediate strings, and its bytes are encoded once, hashed in place
 * and written from there.
 */
export function appendChainLine(out: Buffer, at: number, event: object, state: ChainState, next: ChainState): number {
  const json = JSON.stringify(event);
  // A UTF-16 unit is at most 3 bytes of UTF-8; the chain fields are ASCII (seq, two 64-digit hashes).
  if (at + 3 * json.length + 200 > out.length) return -1;
  const seq = state.seq + 1;
  // {...event, seq, prev}: the event's own text, its closing brace replaced by the chain fields.
  let end = at + out.write(json, at, 'utf8') - 1;
  end += out.write(`,"seq":${seq},"prev":"${state.hash}"}`, end, 'latin1');
  const hash = sha256(out.subarray(at, end));
  end += out.write(`,"hash":"${hash}"}\n`, end - 1, 'latin1') - 1;
  next.seq = seq;
  next.hash = hash;
  return end;
}

const LINE = /^(\{.*),"hash":"([0-9a-f]{64})"\}$/;

export interface ParsedLine {
  seq: number;
  prev: string;
  hash: string;
  /** Whether the hash matches the line's text. */
  intact: boolean;
  event: Record<string, unknown>;
}

/** Parses one line: its chain fields, and whether its hash matches its text. */
export function readLine(line: string): ParsedLine | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const body = `${m[1]}}`;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof parsed.seq !== 'number' || typeof parsed.prev !== 'string') return null;
  return { seq: parsed.seq, prev: parsed.prev, hash: m[2]!, intact: sha256(body) === m[2], event: parsed };
}

/** The chain state to continue from, given a log's last line (GENESIS for an empty or unreadable tail). */
export function stateAfter(lastLine: string | undefined): ChainState {
  const parsed = lastLine ? readLine(lastLine) : null;
  return parsed ? { seq: parsed.seq, hash: parsed.hash } : { seq: 0, hash: GENESIS };
}

/** The event that records a torn last line (a write cut by a crash or a full disk), written when the sink next opens the file. */
export function recoveredEvent(torn: Buffer, time: string): object {
  return { type: 'audit_recovered', time, torn_bytes: torn.length, torn_sha256: sha256(torn) };
}

/**
 * What `audit verify` can find, most serious first. Each kind has its own exit status
 * (2 is the CLI's own: a file that cannot be read, a bad argument).
 */
export const PROBLEM_KINDS = {
  edited: { exit: 1, label: 'TAMPERED (a line was edited)' },
  deleted: { exit: 3, label: 'TAMPERED (lines were deleted)' },
  reordered: { exit: 5, label: 'TAMPERED (files are out of order)' },
  missing_file: { exit: 4, label: 'TAMPERED (a file of the set is missing)' },
  torn_tail: { exit: 6, label: 'TORN (the last write was cut short)' },
} as const;
export type ProblemKind = keyof typeof PROBLEM_KINDS;

export interface Problem {
  kind: ProblemKind;
  message: string;
}

export interface AuditFile {
  name: string;
  /** The file's bytes: read when its turn comes, so a set of large files is never in memory at once. */
  read(): Buffer;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  lines: number;
  problems: Problem[];
  /** Things that are expected and not tampering (a torn write repaired at start, older files rotated away). */
  notes: string[];
  /** The exit status: 0, or that of the most serious problem. */
  exit: number;
}

interface FileSummary {
  lines: number;
  first: ParsedLine | null;
  last: ChainState | null;
}

/** Splits on \n, keeping raw bytes (a torn write may end inside a UTF-8 sequence); `terminated` is false for a last piece with no \n. */
function splitLines(data: Buffer): Array<{ raw: Buffer; terminated: boolean }> {
  const lines: Array<{ raw: Buffer; terminated: boolean }> = [];
  let start = 0;
  while (start < data.length) {
    const nl = data.indexOf(10, start);
    if (nl === -1) {
      lines.push({ raw: data.subarray(start), terminated: false });
      break;
    }
    lines.push({ raw: data.subarray(start, nl), terminated: true });
    start = nl + 1;
  }
  return lines;
}

/** Checks one file's lines; boundaries between files are checked by verifySet. */
function verifyFile(file: AuditFile, problems: Problem[], notes: string[]): FileSummary {
  const lines = splitLines(file.read());
  const at = (n: number) => `${file.name}: line ${n}`;
  let state: ChainState | null = null; // null: before the file's first line (or after an unreadable one)
  let first: ParsedLine | null = null;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const { raw, terminated } = lines[i]!;
    if (!terminated) {
      problems.push({ kind: 'torn_tail', message: `${at(n)}: an incomplete last line of ${raw.length} bytes (a write cut short by a crash or a full disk; the gateway repairs it when it next opens the file)` });
      break;
    }
    const parsed = readLine(raw.toString('utf8'));
    if (!parsed) {
      // A torn write that a later start repaired: the next line records these exact bytes.
      const next = lines[i + 1] ? readLine(lines[i + 1]!.raw.toString('utf8')) : null;
      if (next?.event.type === 'audit_recovered' && next.event.torn_sha256 === sha256(raw)) {
        notes.push(`${at(n)}: a torn write of ${raw.length} bytes, repaired by the next start (line ${n + 1})`);
        continue; // the chain goes on from the line before it
      }
      problems.push({ kind: 'edited', message: `${at(n)}: not an audit line (edited)` });
      state = null;
      continue;
    }
    if (!parsed.intact) problems.push({ kind: 'edited', message: `${at(n)}: content does not match its hash (edited)` });
    if (state === null) {
      if (first === null) first = parsed;
    } else if (!(parsed.seq === 1 && parsed.prev === GENESIS)) {
      // A line with seq 1 and the genesis `prev` starts a new chain (a new log, or a collected stdout stream's next process).
      if (parsed.prev !== state.hash) {
        if (parsed.seq > state.seq + 1) problems.push({ kind: 'deleted', message: `${at(n)}: does not follow line ${n - 1} (sequence ${parsed.seq} after ${state.seq}: lines deleted)` });
        else problems.push({ kind: 'edited', message: `${at(n)}: does not follow line ${n - 1} (its prev is not line ${n - 1}'s hash: a line was edited)` });
      } else if (parsed.seq !== state.seq + 1) {
        problems.push({ kind: 'edited', message: `${at(n)}: sequence ${parsed.seq} after ${state.seq} (edited)` });
      }
    }
    state = { seq: parsed.seq, hash: parsed.hash };
  }
  return { lines: lines.length, first, last: state };
}

/**
 * Verifies a set of audit files, oldest first, as one chain: each file on its own, and
 * each file's first line against the last line of the file before it. The oldest file
 * may begin with an `audit_rotated` line that follows a file no longer kept (rotation's
 * `keep`): that is expected. A set of one is a single log.
 */
export function verifySet(files: AuditFile[]): VerifyResult {
  const problems: Problem[] = [];
  const notes: string[] = [];
  const summaries = files.map((f) => verifyFile(f, problems, notes));
  summaries.forEach((s, k) => {
    const file = files[k]!;
    const first = s.first;
    if (!first) return;
    const startsChain = first.seq === 1 && first.prev === GENESIS;
    const before = k > 0 ? summaries[k - 1]!.last : null;
    if (k === 0 || !before) {
      if (startsChain) return;
      if (first.event.type === 'audit_rotated') {
        notes.push(`${file.name}: begins at sequence ${first.seq}, after a file that is no longer kept (rotated away)`);
      } else if (k === 0) {
        problems.push({ kind: 'deleted', message: `${file.name}: line 1: sequence ${first.seq} does not start a chain or follow a rotated file (lines deleted from the start)` });
      }
      return;
    }
    if (startsChain || (first.prev === before.hash && first.seq === before.seq + 1)) return;
    const prevName = files[k - 1]!.name;
    const otherLast = summaries.some((o, j) => j !== k - 1 && o.last?.hash === first.prev);
    if (otherLast || first.seq <= before.seq) {
      problems.push({ kind: 'reordered', message: `${file.name}: begins at sequence ${first.seq}, which does not follow ${prevName} (ends at ${before.seq}): the files are out of order` });
    } else if (first.seq > before.seq + 1) {
      problems.push({ kind: 'missing_file', message: `${file.name}: begins at sequence ${first.seq}, but ${prevName} ends at ${before.seq}: a file between them is missing` });
    } else {
      problems.push({ kind: 'edited', message: `${file.name}: line 1 does not follow the last line of ${prevName} (edited)` });
    }
  });
  const lines = summaries.reduce((n, s) => n + s.lines, 0);
  const worst = (Object.keys(PROBLEM_KINDS) as ProblemKind[]).find((kind) => problems.some((p) => p.kind === kind));
  return { ok: problems.length === 0, files: files.length, lines, problems, notes, exit: worst ? PROBLEM_KINDS[worst].exit : 0 };
}

/** A single log's text (one file). */
export function verifyChain(text: string): VerifyResult {
  return verifySet([{ name: 'log', read: () => Buffer.from(text) }]);
}
