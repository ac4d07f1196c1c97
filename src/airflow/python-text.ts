// Python `str` behaviours that JavaScript spells differently. Airflow runs on
// CPython, so whitespace, stripping, line splitting and repr() must follow
// CPython's definitions (Objects/unicodeobject.c, Objects/unicodectype.c),
// not ECMAScript's.

// Characters for which CPython's str.isspace() is true. ECMAScript's \s differs:
// it includes U+FEFF and lacks U+001C..U+001F and U+0085.
const PY_WHITESPACE = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
  0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

export function isPyWhitespace(ch: string): boolean {
  return ch.length === 1 && PY_WHITESPACE.has(ch.charCodeAt(0));
}

/** Python `s.strip()` with no argument. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_WHITESPACE.has(s.charCodeAt(start))) start++;
  while (end > start && PY_WHITESPACE.has(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

// Line boundaries of CPython's str.splitlines().
const PY_LINE_BREAKS = new Set<number>([0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029]);

/** Python `s.splitlines()` (keepends=False): "\r\n" is one break; a trailing break adds no empty line. */
export function pySplitlines(s: string): string[] {
  const lines: string[] = [];
  let start = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (PY_LINE_BREAKS.has(c)) {
      lines.push(s.slice(start, i));
      i += c === 0x0d && s.charCodeAt(i + 1) === 0x0a ? 2 : 1;
      start = i;
    } else {
      i++;
    }
  }
  if (start < s.length) lines.push(s.slice(start));
  return lines;
}

/**
 * What Python's open() in text mode hands to the parser: universal newlines
 * translate "\r\n" and a lone "\r" to "\n" (io.TextIOWrapper, newline=None).
 * local_filesystem.py reads every file this way before parsing it.
 */
export function pyUniversalNewlines(s: string): string {
  return s.replace(/\r\n?/g, '\n');
}

/** Number of code points, as Python's len() counts them. */
export function pyLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Python `s[1:]`: drops the first code point (a surrogate pair is one code point). */
export function pyDropFirst(s: string): string {
  if (s.length === 0) return s;
  const cp = s.codePointAt(0) ?? 0;
  return s.slice(cp > 0xffff ? 2 : 1);
}

/** True when the string holds an unpaired UTF-16 surrogate, which Python cannot encode as UTF-8. */
export function hasLoneSurrogate(s: string): boolean {
  return !s.isWellFormed();
}

// Characters CPython's str.isprintable() rejects and repr() therefore escapes.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python `repr(s)` for a str, used where Airflow formats a list of keys into a message. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp === 0x20) out += ch;
    else if (NON_PRINTABLE.test(ch)) {
      if (cp < 0x100) out += '\\x' + cp.toString(16).padStart(2, '0');
      else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
      else out += '\\U' + cp.toString(16).padStart(8, '0');
    } else out += ch;
  }
  return out + quote;
}
