// Airflow's *_lookup_pattern (spec §8; providers/amazon/.../secrets_manager.py#_get_secret):
// `re.match(pattern, id, re.IGNORECASE)` — anchored at the start only, case-insensitive,
// and an empty or missing pattern lets every id through.

/** Translates the few Python `re` spellings that JavaScript writes differently. */
function toJavaScriptSource(pattern: string): string {
  return pattern
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '(?![\\s\\S])');
}

export type LookupPattern = (id: string) => boolean;

/** Compiles a pattern once; throws a SyntaxError (caught by config validation) if it is not valid. */
export function compileLookupPattern(pattern: string | null | undefined): LookupPattern {
  if (!pattern) return () => true;
  // The sticky flag anchors the match at lastIndex 0 without anchoring its end: re.match semantics.
  const regex = new RegExp(toJavaScriptSource(pattern), 'iy');
  return (id: string) => {
    regex.lastIndex = 0;
    return regex.test(id);
  };
}
