// Parses the freshness a client asks for in its request's Cache-Control header
// (RFC 9111 §5.2.1): `no-cache` and `max-age=N`. Other directives are ignored,
// as a cache must; a max-age that is not a number is refused, not guessed at.
import { problem } from '../errors.ts';
import type { RequestFreshness } from './types.ts';

const MAX_AGE = /^max-age\s*=\s*(?:(\d{1,9})|"(\d{1,9})")$/i;

export function parseRequestFreshness(header: string | string[] | undefined): RequestFreshness {
  const freshness: RequestFreshness = { noCache: false };
  if (header === undefined) return freshness;
  const directives = (Array.isArray(header) ? header.join(',') : header).split(',').map((d) => d.trim()).filter(Boolean);
  for (const directive of directives) {
    const name = directive.split('=')[0]!.trim().toLowerCase();
    if (name === 'no-cache') freshness.noCache = true;
    else if (name === 'max-age') {
      const m = MAX_AGE.exec(directive);
      if (!m) throw problem.invalid_request('Cache-Control max-age must be a whole number of seconds.');
      const seconds = Number(m[1] ?? m[2]);
      // Several max-age directives: the strictest wins.
      freshness.maxAgeSeconds = Math.min(seconds, freshness.maxAgeSeconds ?? Infinity);
    }
  }
  return freshness;
}
