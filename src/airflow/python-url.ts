// CPython 3.11 `urllib.parse`, emulated exactly (Lib/urllib/parse.py).
// Airflow builds and reads connection URIs with these functions, so the
// WHATWG URL parser, encodeURIComponent and decodeURIComponent must not be
// used anywhere in the model: they disagree on which characters are quoted,
// on '+' and '~', on case, and they throw where Python does not.

import { checkBracketedHost } from './python-ipaddress.ts';

export { pythonJsonDumps } from './python-json.ts';

/** A ValueError (or UnicodeEncodeError) raised by urllib.parse; the message never holds the input. */
export class PyUrlError extends Error {
  readonly code: 'invalid_ipv6' | 'invalid_netloc' | 'invalid_port' | 'unencodable';
  constructor(code: PyUrlError['code'], message: string) {
    super(message);
    this.name = 'PyUrlError';
    this.code = code;
  }
}

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]*$/;
// Stripped from the left of every URL (WHATWG C0 control or space).
const C0_CONTROL_OR_SPACE = /^[\x00-\x20]+/;

export interface SplitResult {
  readonly scheme: string;
  readonly netloc: string;
  readonly path: string;
  readonly query: string;
  readonly fragment: string;
  readonly username: string | null;
  readonly password: string | null;
  /** Lower-cased (not the `%zone` of a scoped IPv6 address), brackets stripped; null when empty. */
  readonly hostname: string | null;
  /** Throws PyUrlError('invalid_port') like Python's property; null when there is no port. */
  readonly port: number | null;
}

/** `_splitnetloc`: the authority ends at the first '/', '?' or '#'. */
function splitNetloc(url: string, start: number): [string, string] {
  let delim = url.length;
  for (const c of '/?#') {
    const w = url.indexOf(c, start);
    if (w >= 0) delim = Math.min(delim, w);
  }
  return [url.slice(start, delim), url.slice(delim)];
}

/**
 * `_checknetloc`: a non-ASCII netloc whose NFKC form gains one of '/?#@:'
 * (e.g. U+2100 "℀" -> "a/c") is rejected.
 */
function checkNetloc(netloc: string): void {
  if (!netloc || /^[\x00-\x7f]*$/.test(netloc)) return;
  const n = netloc.replace(/[@:#?]/g, '');
  const normalized = n.normalize('NFKC');
  if (n === normalized) return;
  for (const c of '/?#@:') {
    if (normalized.includes(c)) {
      throw new PyUrlError('invalid_netloc', 'The URL authority contains characters that are invalid under NFKC normalization.');
    }
  }
}

function rpartition(s: string, sep: string): [string, boolean, string] {
  const i = s.lastIndexOf(sep);
  return i === -1 ? ['', false, s] : [s.slice(0, i), true, s.slice(i + sep.length)];
}

function partition(s: string, sep: string): [string, boolean, string] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, false, ''] : [s.slice(0, i), true, s.slice(i + sep.length)];
}

/** `_NetlocResultMixinStr._userinfo`. */
function userinfo(netloc: string): [string | null, string | null] {
  const [info, haveInfo] = rpartition(netloc, '@');
  if (!haveInfo) return [null, null];
  const [username, havePassword, password] = partition(info, ':');
  return [username, havePassword ? password : null];
}

/** `_NetlocResultMixinStr._hostinfo`. */
function hostinfo(netloc: string): [string, string | null] {
  const [, , hostinfoPart] = rpartition(netloc, '@');
  const [, haveOpenBracket, bracketed] = partition(hostinfoPart, '[');
  let hostname: string;
  let port: string;
  if (haveOpenBracket) {
    let afterBracket: string;
    [hostname, , afterBracket] = partition(bracketed, ']');
    [, , port] = partition(afterBracket, ':');
  } else {
    [hostname, , port] = partition(hostinfoPart, ':');
  }
  return [hostname, port ? port : null];
}

function parsePort(port: string | null): number | null {
  if (port === null) return null;
  // port.isdigit() and port.isascii(): ASCII digits only.
  if (!/^[0-9]+$/.test(port)) {
    throw new PyUrlError('invalid_port', 'The port could not be cast to an integer.');
  }
  const value = Number(port);
  if (!(value >= 0 && value <= 65535)) throw new PyUrlError('invalid_port', 'The port is out of range 0-65535.');
  return value;
}

function lowerHostname(hostname: string): string | null {
  if (!hostname) return null;
  // A scoped IPv6 zone (after '%') keeps its case.
  const [name, hasPercent, zone] = partition(hostname, '%');
  return name.toLowerCase() + (hasPercent ? '%' + zone : '');
}

/** `urllib.parse.urlsplit(url)` with default scheme '' and allow_fragments=True. */
export function urlsplit(input: string): SplitResult {
  let url = input.replace(C0_CONTROL_OR_SPACE, '').replace(/[\t\r\n]/g, '');
  let scheme = '';
  let netloc = '';
  let query = '';
  let fragment = '';
  const i = url.indexOf(':');
  if (i > 0 && /^[A-Za-z]$/.test(url[0]!) && SCHEME_CHARS.test(url.slice(0, i))) {
    scheme = url.slice(0, i).toLowerCase();
    url = url.slice(i + 1);
  }
  if (url.startsWith('//')) {
    [netloc, url] = splitNetloc(url, 2);
    const hasOpen = netloc.includes('[');
    const hasClose = netloc.includes(']');
    if (hasOpen !== hasClose) throw new PyUrlError('invalid_ipv6', 'Invalid IPv6 URL.');
    if (hasOpen && hasClose) {
      const bracketed = partition(partition(netloc, '[')[2], ']')[0];
      const problem = checkBracketedHost(bracketed);
      if (problem === 'ipv4_in_brackets') throw new PyUrlError('invalid_ipv6', 'An IPv4 address cannot be in brackets.');
      if (problem === 'invalid_ipvfuture') throw new PyUrlError('invalid_ipv6', 'IPvFuture address is invalid.');
      if (problem === 'invalid_ip') throw new PyUrlError('invalid_ipv6', 'The bracketed host does not appear to be an IPv4 or IPv6 address.');
    }
  }
  const hash = url.indexOf('#');
  if (hash !== -1) {
    fragment = url.slice(hash + 1);
    url = url.slice(0, hash);
  }
  const q = url.indexOf('?');
  if (q !== -1) {
    query = url.slice(q + 1);
    url = url.slice(0, q);
  }
  checkNetloc(netloc);
  const path = url;
  const [username, password] = userinfo(netloc);
  const [rawHost, rawPort] = hostinfo(netloc);
  const hostname = lowerHostname(rawHost);
  return {
    scheme,
    netloc,
    path,
    query,
    fragment,
    username,
    password,
    hostname,
    get port(): number | null {
      return parsePort(rawPort);
    },
  };
}

// quote()'s always-safe set: letters, digits and "_.-~".
const ALWAYS_SAFE = new Set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~');
const utf8 = new TextEncoder();

function encodeUtf8Strict(s: string): Uint8Array {
  // str.encode('utf-8', 'strict') raises on an unpaired surrogate; TextEncoder would substitute U+FFFD.
  if (!s.isWellFormed()) throw new PyUrlError('unencodable', 'The text contains an unpaired surrogate and cannot be encoded as UTF-8.');
  return utf8.encode(s);
}

/** `urllib.parse.quote(s, safe)`: UTF-8, uppercase %XX, only ASCII characters of `safe` are honoured. */
export function quote(s: string, safe = '/'): string {
  if (!s) return s;
  const bytes = encodeUtf8Strict(s);
  const safeSet = new Set([...ALWAYS_SAFE, ...[...safe].filter((c) => c.charCodeAt(0) < 128)]);
  let out = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    out += b < 128 && safeSet.has(ch) ? ch : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** `urllib.parse.quote_plus(s, safe='')`: like quote, but a space becomes '+'. */
export function quotePlus(s: string, safe = ''): string {
  if (!s.includes(' ')) return quote(s, safe);
  return quote(s, safe + ' ').replaceAll(' ', '+');
}

const HEX2 = /^[0-9A-Fa-f]{2}/;
const utf8Lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** `unquote_to_bytes` on an ASCII string: %XX becomes a byte, anything malformed stays as it is. */
function unquoteAsciiToBytes(s: string): Uint8Array {
  const out: number[] = [];
  const bits = s.split('%');
  for (const c of bits[0]!) out.push(c.charCodeAt(0));
  for (const item of bits.slice(1)) {
    if (HEX2.test(item)) {
      out.push(parseInt(item.slice(0, 2), 16));
      for (const c of item.slice(2)) out.push(c.charCodeAt(0));
    } else {
      out.push(0x25);
      for (const c of item) out.push(c.charCodeAt(0));
    }
  }
  return Uint8Array.from(out);
}

/**
 * `urllib.parse.unquote(s)`: never throws. Only runs of ASCII characters are
 * decoded (each run separately, as Python's `_asciire.split` does); bytes that
 * are not valid UTF-8 become U+FFFD ('replace' error handler, which like the
 * WHATWG decoder replaces each maximal invalid subpart once).
 */
export function unquote(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/[\x00-\x7f]+/g, (run) => (run.includes('%') ? utf8Lenient.decode(unquoteAsciiToBytes(run)) : run));
}

/** `urllib.parse.unquote_plus(s)`: '+' becomes a space, then unquote. */
export function unquotePlus(s: string): string {
  return unquote(s.replaceAll('+', ' '));
}

/**
 * `urllib.parse.parse_qsl(qs, keep_blank_values)`: splits on '&' only (never ';',
 * since 3.9.2), skips empty fields, a field without '=' is a key with value ''
 * when blanks are kept, and unquote_plus decodes names and values.
 */
export function parseQsl(qs: string, keepBlankValues = false): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  if (!qs) return result;
  for (const field of qs.split('&')) {
    if (!field) continue;
    const eq = field.indexOf('=');
    let name: string;
    let value: string;
    if (eq === -1) {
      if (!keepBlankValues) continue;
      name = field;
      value = '';
    } else {
      name = field.slice(0, eq);
      value = field.slice(eq + 1);
    }
    if (value.length || keepBlankValues) result.push([unquotePlus(name), unquotePlus(value)]);
  }
  return result;
}

/**
 * `dict(parse_qsl(...))` as an ordered Map: for a repeated key the last value
 * wins but the key keeps its first position, like a Python dict.
 */
export function parseQslDict(qs: string, keepBlankValues = false): Map<string, string> {
  return new Map(parseQsl(qs, keepBlankValues));
}

/** `urllib.parse.urlencode(mapping)` (doseq=False, quote_via=quote_plus): space -> '+', '~' kept, '*' -> %2A. */
export function urlencode(query: Iterable<readonly [string, string]> | Record<string, string>): string {
  const entries: Iterable<readonly [string, string]> =
    Symbol.iterator in query ? (query as Iterable<readonly [string, string]>) : Object.entries(query as Record<string, string>);
  const parts: string[] = [];
  for (const [k, v] of entries) parts.push(`${quotePlus(k)}=${quotePlus(v)}`);
  return parts.join('&');
}
