// Airflow's *_lookup_pattern (spec §8; providers/amazon/.../secrets_manager.py#_get_secret):
// `re.match(pattern, id, re.IGNORECASE)` — anchored at the start only, case-insensitive,
// and an empty or missing pattern lets every id through.
//
// Ids come from the network, so a pattern is matched in linear time, by RE2 (re2js, its pure
// JavaScript port): with a backtracking engine (V8's, Python's) `^(a+)+$` and a 30-character id
// hold the event loop for seconds. RE2 reads Python's syntax (`(?P<name>...)`, `\A`) and folds
// case as `re.IGNORECASE` does on str patterns; what it cannot run in linear time (backreferences,
// lookaround) is refused when the configuration loads, never at request time.
import { createRequire } from 'node:module';
import type { RE2JS as RE2JSClass } from 're2js';

// re2js takes time to load (see bench/optimization-log.md, "Figures quoted in code comments"): only a
// configuration with a pattern pays for it. (A plain
// require, which the bundle leaves to Node: re2js is loaded from node_modules.)
let RE2JS: typeof RE2JSClass | undefined;
const re2 = (): typeof RE2JSClass => (RE2JS ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JSClass }).RE2JS);

export type LookupPattern = (id: string) => boolean;

/** A pattern RE2 cannot compile: `reason` says why, for the configuration error. */
export class LookupPatternError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
    this.name = 'LookupPatternError';
  }
}

/** Python's `\Z` (the very end) is RE2's `\z`; everything else Airflow patterns use is spelled the same. */
const toRe2Source = (pattern: string): string => pattern.replace(/(?<!\\)((?:\\\\)*)\\Z/g, '$1\\z');

/** Compiles a pattern once; throws a LookupPatternError (config validation reports it) if RE2 cannot run it. */
export function compileLookupPattern(pattern: string | null | undefined): LookupPattern {
  if (!pattern) return () => true;
  let compiled: RE2JSClass;
  try {
    compiled = re2().compile(toRe2Source(pattern), re2().CASE_INSENSITIVE);
  } catch (err) {
    const message = (err as Error)?.message ?? 'invalid';
    const unsupported = /unsupported Perl syntax|invalid escape/.test(message);
    throw new LookupPatternError(
      unsupported
        ? `${message.replace(/^error parsing regexp: /, '')}: lookup patterns are matched in linear time (RE2), which has no backreferences or lookaround`
        : message.replace(/^error parsing regexp: /, ''),
    );
  }
  // lookingAt: anchored at the start, not at the end — re.match.
  return (id: string) => compiled.matcher(id).lookingAt();
}
