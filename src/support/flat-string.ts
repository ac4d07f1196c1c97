// A string kept for a long time (a cached answer, a fingerprint) is cheapest as one flat
// sequence of characters. V8 represents `a + b` as a pair of pointers to its parts and
// `s.slice(i, j)` as a pointer into `s` (which stays alive with it): both are right for
// short-lived text and cost two to five times the characters when kept. A copy through
// UTF-16 code units is exact for every string (lone surrogates included), and V8 stores
// the result one byte per character when it can.

/** An exact, flat copy of `s` (for strings held by long-lived structures, not for hot paths). */
export function flatString(s: string): string {
  return Buffer.from(s, 'utf16le').toString('utf16le');
}
