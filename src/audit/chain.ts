// The audit log's hash chain. Each line is a JSON object whose last two fields
// are `prev` (the previous line's hash) and `hash` (SHA-256 of the line's own
// text up to, and without, `,"hash":…`). Editing a line breaks its hash;
// deleting one breaks the next line's `prev` and `seq`. Pure functions, shared
// by the writer and `secrets-gateway audit verify`.
import { hash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export interface ChainState {
  seq: number;
  hash: string;
}

// The one-shot hash: about half the cost of createHash().update().digest() for a line this size.
const sha256 = (s: string): string => hash('sha256', s, 'hex');

/** One chained line (with its newline) for `event`, and the chain's new state. */
export function chainLine(event: object, state: ChainState): { line: string; state: ChainState } {
  const seq = state.seq + 1;
  const body = JSON.stringify({ ...event, seq, prev: state.hash });
  const hash = sha256(body);
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}\n`, state: { seq, hash } };
}

const LINE = /^(\{.*),"hash":"([0-9a-f]{64})"\}$/;

/** Parses one line: its chain fields, and whether its hash matches its text. */
export function readLine(line: string): { seq: number; prev: string; hash: string; intact: boolean } | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const body = `${m[1]}}`;
  let parsed: { seq?: unknown; prev?: unknown };
  try {
    parsed = JSON.parse(body) as { seq?: unknown; prev?: unknown };
  } catch {
    return null;
  }
  if (typeof parsed.seq !== 'number' || typeof parsed.prev !== 'string') return null;
  return { seq: parsed.seq, prev: parsed.prev, hash: m[2]!, intact: sha256(body) === m[2] };
}

export interface VerifyResult {
  ok: boolean;
  lines: number;
  problems: string[];
}

/**
 * Checks a whole log: every line intact, each `prev` the hash of the line before
 * it, `seq` counting up by one. The file sink continues one chain across
 * restarts; a line with seq 1 and the genesis `prev` starts a new chain (a
 * collected stdout stream has one per process start).
 */
export function verifyChain(text: string): VerifyResult {
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let state: ChainState = { seq: 0, hash: GENESIS };
  lines.forEach((line, i) => {
    const n = i + 1;
    const parsed = readLine(line);
    if (!parsed) {
      problems.push(`line ${n}: not an audit line (edited or truncated)`);
      state = { seq: Number.NaN, hash: '' };
      return;
    }
    if (!parsed.intact) problems.push(`line ${n}: content does not match its hash (edited)`);
    const startsChain = parsed.seq === 1 && parsed.prev === GENESIS;
    if (!startsChain) {
      if (parsed.prev !== state.hash) problems.push(`line ${n}: does not follow line ${n - 1} (a line was deleted or edited)`);
      else if (parsed.seq !== state.seq + 1) problems.push(`line ${n}: sequence ${parsed.seq} after ${state.seq} (lines deleted)`);
    }
    state = { seq: parsed.seq, hash: parsed.hash };
  });
  return { ok: problems.length === 0, lines: lines.length, problems };
}

/** The chain state to continue from, given a log's last line (GENESIS for an empty or unreadable tail). */
export function stateAfter(lastLine: string | undefined): ChainState {
  const parsed = lastLine ? readLine(lastLine) : null;
  return parsed ? { seq: parsed.seq, hash: parsed.hash } : { seq: 0, hash: GENESIS };
}
