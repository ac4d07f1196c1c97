// The one glob grammar of the gateway: grants (`connections:read:team_a_*`), policy denies and
// cache invalidation globs all mean the same thing by the same text. `*` matches any run of
// characters (none, and `/` included, since ids may contain it); every other character, `?`
// included, matches only itself. Pure functions, no regular expressions: no glob can make
// matching slow.

/** Whole-string match: is `text` one of the strings `glob` names? Each literal part is found once,
 * left to right (greedy-leftmost is exact for `*`-only globs). */
export function globMatches(glob: string, text: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === text;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (text.length < first.length + last.length) return false;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    if (part.length === 0) continue;
    const found = text.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * Does `grant` cover every string that `glob` can match (is L(glob) ⊆ L(grant))? Exact for this
 * grammar: write `glob` with each `*` replaced by a character that occurs in neither glob, and ask
 * whether `grant` matches that text. A match means each replaced `*` fell inside one of `grant`'s
 * stars, so it still matches whatever the `*` stands for; no match means some `*` can be filled
 * with characters `grant` cannot absorb. (docs: the covering rule in docs/cache.md.)
 */
export function globCovers(grant: string, glob: string): boolean {
  if (!glob.includes('*')) return globMatches(grant, glob);
  const fresh = freshCharacter(grant, glob);
  return globMatches(grant, glob.replaceAll('*', fresh));
}

/**
 * Can one string match both globs (is L(a) ∩ L(b) non-empty)? Used for denies: an invalidation by
 * glob is refused when a deny could name any id it reaches. With a `*` in each, a common string
 * exists exactly when their literal prefixes agree (one starts the other) and their literal
 * suffixes agree (one ends the other): the longer prefix, every middle part of both, then the
 * longer suffix, is matched by both.
 */
export function globsIntersect(a: string, b: string): boolean {
  const aStar = a.includes('*');
  const bStar = b.includes('*');
  if (!aStar) return globMatches(b, a);
  if (!bStar) return globMatches(a, b);
  const [ap, as] = [a.slice(0, a.indexOf('*')), a.slice(a.lastIndexOf('*') + 1)];
  const [bp, bs] = [b.slice(0, b.indexOf('*')), b.slice(b.lastIndexOf('*') + 1)];
  return (ap.startsWith(bp) || bp.startsWith(ap)) && (as.endsWith(bs) || bs.endsWith(as));
}

/** A character that occurs in neither text (there is always one: the texts are finite). */
function freshCharacter(a: string, b: string): string {
  for (let code = 0xe000; ; code++) {
    const c = String.fromCharCode(code);
    if (!a.includes(c) && !b.includes(c)) return c;
  }
}

/**
 * Unicode case folding for deny rules. Some backends fold the case of ids (the environment backend
 * reads AIRFLOW_CONN_<ID upper-cased>), so `TEAM_ADMIN` can name the same secret as `team_admin`:
 * a deny must not be sidestepped by casing.
 */
export const foldCase = (s: string): string => s.toUpperCase().toLowerCase();

/** Case-insensitive glob match (for denies). */
export const globMatchesFolded = (glob: string, text: string): boolean => globMatches(foldCase(glob), foldCase(text));
