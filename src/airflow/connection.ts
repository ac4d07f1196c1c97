// Airflow's Connection model, as the pinned Airflow core implements it
// (airflow-core/src/airflow/models/connection.py, apache-airflow 3.3.2).
// Everything here is pure and mirrors Python line by line; each rule names the
// Python it reproduces. Errors carry a stable code and never echo the input,
// because a connection URI or JSON document holds the password.

import {
  PyFloat,
  PyJsonDecodeError,
  PyJsonValueError,
  pyJsonLoads,
  pyTruthy,
  pythonJsonDumps,
  pyToPlain,
  type PyDict,
  type PyValue,
} from './python-json.ts';
import { pyDropFirst, pyLen, pyStrip } from './python-text.ts';
import { flatString } from '../support/flat-string.ts';
import { PyUrlError, parseQslDict, quote, unquote, urlencode, urlsplit, type SplitResult } from './python-url.ts';

export interface Connection {
  conn_id: string;
  conn_type: string | null;
  description: string | null;
  host: string | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  port: number | null;
  /** The raw extra string, as Airflow stores it. */
  extra: string | null;
}

export class ConnectionFormatError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ConnectionFormatError';
    this.code = code;
  }
}

const EXTRA_KEY = '__extra__';

// Connection.__init__ parameters other than conn_id/uri (3.3.2 adds team_name).
const FIELD_KEYS = ['conn_type', 'description', 'host', 'login', 'password', 'schema', 'port', 'extra', 'team_name'] as const;
const INIT_KEYS = new Set<string>([...FIELD_KEYS, 'uri']);

// RE_SANITIZE_CONN_ID = ^[\w#!()\-.:/\\]{1,}$ ; Python's \w on str is [\p{L}\p{N}_]
// (str.isalnum() or '_'), and `$` also matches before one trailing "\n".
const CONN_ID_RE = /^[\p{L}\p{N}_#!()\-.:/\\]+\n?$/u;
const CONN_ID_MAX_LEN = 250;

/** sanitize_conn_id(conn_id) is not None. */
export function isValidConnId(connId: string): boolean {
  return pyLen(connId) <= CONN_ID_MAX_LEN && CONN_ID_RE.test(connId);
}

/** Connection._normalize_conn_type. */
function normalizeConnType(connType: string): string {
  if (connType === 'postgresql') return 'postgres';
  return connType.includes('-') ? connType.replaceAll('-', '_') : connType;
}

function fromUrlError(e: unknown): never {
  if (e instanceof PyUrlError) {
    const code = e.code === 'unencodable' ? 'invalid_unicode' : e.code;
    throw new ConnectionFormatError(code, `Invalid connection string: ${e.message}`);
  }
  throw e;
}

function split(uri: string): SplitResult {
  try {
    return urlsplit(uri);
  } catch (e) {
    return fromUrlError(e);
  }
}

/** _parse_netloc_to_hostname: hostname (lower-cased), or the case-preserving netloc when it holds '/'. */
function parseNetlocToHostname(parts: SplitResult): string {
  let hostname = unquote(parts.hostname ?? '');
  if (hostname.includes('/')) {
    hostname = parts.netloc;
    const at = hostname.lastIndexOf('@');
    if (at !== -1) hostname = hostname.slice(at + 1);
    const colon = hostname.indexOf(':');
    if (colon !== -1) hostname = hostname.slice(0, colon);
    hostname = unquote(hostname);
  }
  return hostname;
}

interface UriFields {
  conn_type: string;
  host: string;
  schema: string;
  login: string | null;
  password: string | null;
  port: number | null;
  extra: string | null;
}

/** Connection._parse_from_uri. */
function parseFromUri(uri: string): UriFields {
  const schemes = uri.split('://').length - 1;
  if (schemes > 2) throw new ConnectionFormatError('too_many_schemes', 'Invalid connection string: more than two "://" separators.');
  const hostWithProtocol = schemes === 2;
  const prenormalized = split(uri).scheme;
  const connType = normalizeConnType(prenormalized);
  // str.replace replaces every occurrence, including any in the query.
  const rest = uri.split(`${prenormalized}://`).join(hostWithProtocol ? '' : '//');
  if (hostWithProtocol) {
    const beforeProtocol = rest.split('://', 1)[0]!;
    if (beforeProtocol.includes('@') || beforeProtocol.includes(':')) {
      throw new ConnectionFormatError(
        'hwp_auth_before_protocol',
        'Invalid connection string: credentials or a port come before the host protocol; use type://protocol://user:pass@host:port.',
      );
    }
  }
  const parts = split(rest);
  const protocol = hostWithProtocol ? parts.scheme : null;
  const hostname = parseNetlocToHostname(parts);
  // _create_host: an empty host stays empty; otherwise the protocol is put back in front.
  const host = hostname && protocol ? `${protocol}://${hostname}` : hostname;
  const quotedSchema = pyDropFirst(parts.path);
  const schema = quotedSchema ? unquote(quotedSchema) : quotedSchema;
  const login = parts.username ? unquote(parts.username) : parts.username;
  const password = parts.password ? unquote(parts.password) : parts.password;
  let port: number | null;
  try {
    port = parts.port;
  } catch (e) {
    return fromUrlError(e);
  }
  let extra: string | null = null;
  if (parts.query) {
    const query = parseQslDict(parts.query, true);
    if (query.has(EXTRA_KEY)) {
      extra = query.get(EXTRA_KEY)!;
    } else {
      // 3.3.2: every non-empty value that parses as JSON is stored decoded
      // (`?a=1` gives {"a": 1}); a JSONDecodeError keeps the string.
      const decoded: PyDict = new Map();
      for (const [key, value] of query) {
        let v: PyValue = value;
        if (value) {
          try {
            v = pyJsonLoads(value);
          } catch (e) {
            if (e instanceof PyJsonValueError) {
              throw new ConnectionFormatError('invalid_extra', `A query parameter holds JSON that Python cannot decode (${e.reason}).`);
            }
            if (!(e instanceof PyJsonDecodeError)) throw e;
          }
        }
        decoded.set(key, v);
      }
      extra = pythonJsonDumps(decoded);
    }
  }
  return { conn_type: connType, host, schema, login, password, port, extra };
}

/** Connection._validate_extra: a truthy extra must be a JSON object. */
function validateExtra(extra: string): void {
  let parsed: PyValue;
  try {
    parsed = pyJsonLoads(extra);
  } catch {
    throw new ConnectionFormatError('invalid_extra', 'Encountered non-JSON in `extra` field for the connection.');
  }
  if (!(parsed instanceof Map)) {
    throw new ConnectionFormatError(
      'invalid_extra',
      'Encountered JSON value in `extra` which does not parse as a dictionary. The `extra` field must contain a JSON representation of a Python dict.',
    );
  }
}

/**
 * The tail of Connection.__init__ shared by every constructor: extra
 * validation, and `mask_secret(quote(password))`, which raises
 * UnicodeEncodeError for a password with an unpaired surrogate.
 */
function finish(conn: Connection): Connection {
  if (conn.extra) validateExtra(conn.extra);
  if (conn.password) {
    try {
      quote(conn.password);
    } catch (e) {
      fromUrlError(e);
    }
  }
  return conn;
}

/** Connection(conn_id, uri=...): the core password setter stores '' as None. */
export function connectionFromUri(connId: string, uri: string): Connection {
  if (!uri) {
    // `if uri:` is false, so __init__ takes the field path with every field None.
    return finish(emptyConnection(connId));
  }
  const f = parseFromUri(uri);
  return finish({
    conn_id: connId,
    conn_type: f.conn_type,
    description: null,
    host: f.host,
    login: f.login,
    password: f.password || null,
    schema: f.schema,
    port: f.port,
    extra: f.extra,
  });
}

function emptyConnection(connId: string): Connection {
  return { conn_id: connId, conn_type: null, description: null, host: null, login: null, password: null, schema: null, port: null, extra: null };
}

function optionalString(field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  // Airflow would store a non-string as it is and fail later (quote() in get_uri,
  // or the Execution API's pydantic model); the gateway rejects it up front.
  throw new ConnectionFormatError('invalid_field_type', `The connection field \`${field}\` must be a string.`);
}

/** `int(port)` on a digit string or an int; any other port is rejected. */
function integerPort(value: unknown): number | null {
  // Airflow keeps '' as it is; the worker's from_json drops a falsy port, so '' means no port.
  if (value === null || value === undefined || value === '') return null;
  let n: number | null = null;
  if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'number' && Number.isInteger(value)) n = value;
  else if (typeof value === 'string' && /^[0-9]+$/.test(value)) n = Number(value);
  if (n === null || !Number.isSafeInteger(n)) {
    throw new ConnectionFormatError('invalid_port', 'Expected integer value for `port`.');
  }
  return n;
}

/**
 * Connection.__init__ with keyword arguments. `uri` may not be combined with
 * a truthy conn_type/host/login/password/schema/port/extra (description may).
 */
function connectionFromInit(connId: string, kw: Map<string, unknown>): Connection {
  for (const key of kw.keys()) {
    if (!INIT_KEYS.has(key)) {
      throw new ConnectionFormatError('unknown_keys', 'The connection has keys that Connection() does not accept.');
    }
  }
  const description = optionalString('description', kw.get('description'));
  let extraValue = kw.get('extra');
  // `if extra and not isinstance(extra, str): extra = json.dumps(extra)`.
  if (pyTruthy(extraValue) && typeof extraValue !== 'string') {
    try {
      extraValue = pythonJsonDumps(extraValue);
    } catch {
      throw new ConnectionFormatError('invalid_extra', 'The connection `extra` cannot be serialized as JSON.');
    }
  }
  const uri = kw.get('uri');
  const mixed = ['conn_type', 'host', 'login', 'password', 'schema', 'port'].some((k) => pyTruthy(kw.get(k))) || pyTruthy(extraValue);
  if (pyTruthy(uri) && mixed) {
    throw new ConnectionFormatError(
      'uri_with_fields',
      "You must create an object using the URI or individual values (conn_type, host, login, password, schema, port or extra). You can't mix these two ways to create this object.",
    );
  }
  if (pyTruthy(uri)) {
    if (typeof uri !== 'string') throw new ConnectionFormatError('invalid_field_type', 'The connection field `uri` must be a string.');
    const conn = connectionFromUri(connId, uri);
    return finish({ ...conn, description });
  }
  const password = optionalString('password', kw.get('password'));
  // A falsy non-string extra ({} , [], 0, false) is stored as is by Airflow and behaves like None.
  const extra = typeof extraValue === 'string' ? extraValue : null;
  return finish({
    conn_id: connId,
    // `if conn_type is not None: self.conn_type = conn_type` (not normalized here).
    conn_type: optionalString('conn_type', kw.get('conn_type')),
    description,
    host: optionalString('host', kw.get('host')),
    login: optionalString('login', kw.get('login')),
    // FernetFieldsMixin.set_password stores only a truthy value.
    password: password ? password : null,
    schema: optionalString('schema', kw.get('schema')),
    port: integerPort(kw.get('port')),
    extra,
  });
}

function entriesOf(fields: Record<string, unknown> | Map<string, unknown>): Map<string, unknown> {
  return fields instanceof Map ? new Map(fields) : new Map(Object.entries(fields));
}

/**
 * Connection(conn_id, **fields), as local_filesystem.py and the Vault backend
 * build it from a dict (keys: conn_type description host login password schema
 * port extra uri, plus team_name, which the gateway ignores).
 *
 * Port: Airflow's __init__ does not cast, so a "5432" string stays a string on
 * the core object; but the worker receives the connection through the
 * Execution API / Connection.from_json, which casts with int(), so the gateway
 * casts a digit string here. Any other non-integer port is rejected.
 */
export function connectionFromFields(connId: string, fields: Record<string, unknown> | Map<string, unknown>): Connection {
  return connectionFromInit(connId, entriesOf(fields));
}

/** Connection.from_json(value, conn_id). */
export function connectionFromJson(connId: string, json: string): Connection {
  let parsed: PyValue;
  try {
    parsed = pyJsonLoads(json);
  } catch (e) {
    const where = e instanceof PyJsonDecodeError ? ` (line ${e.lineno} column ${e.colno}: ${e.msg})` : '';
    throw new ConnectionFormatError('invalid_json', `The connection is not valid JSON${where}.`);
  }
  if (!(parsed instanceof Map)) throw new ConnectionFormatError('invalid_json', 'The connection JSON is not an object.');
  const kwargs = new Map<string, unknown>(parsed);
  if (kwargs.has('conn_id')) {
    // Connection(conn_id=conn_id, **kwargs) -> TypeError: multiple values for 'conn_id'.
    throw new ConnectionFormatError('conn_id_key', 'The connection JSON may not contain a `conn_id` key.');
  }
  const extra = kwargs.get('extra');
  kwargs.delete('extra');
  if (pyTruthy(extra)) kwargs.set('extra', typeof extra === 'string' ? extra : pythonJsonDumps(extra));
  const connType = kwargs.get('conn_type');
  kwargs.delete('conn_type');
  if (pyTruthy(connType)) {
    if (typeof connType !== 'string') throw new ConnectionFormatError('invalid_field_type', 'The connection field `conn_type` must be a string.');
    kwargs.set('conn_type', normalizeConnType(connType));
  }
  const port = kwargs.get('port');
  kwargs.delete('port');
  if (pyTruthy(port)) kwargs.set('port', jsonPort(port as PyValue));
  return connectionFromInit(connId, kwargs);
}

/** from_json's `int(port)`: ints, floats (truncated), bools and int-like strings. */
function jsonPort(port: PyValue): number {
  const bad = (): never => {
    throw new ConnectionFormatError('invalid_port', 'Expected integer value for `port`.');
  };
  let n: number;
  if (typeof port === 'bigint') n = Number(port);
  else if (port === true) n = 1;
  else if (port instanceof PyFloat) n = Number.isFinite(port.value) ? Math.trunc(port.value) : bad();
  else if (typeof port === 'string') {
    // int(str): surrounding whitespace, a sign and single '_' between digits are allowed.
    // int(str) also reads any Unicode decimal digit ('٣' is 3).
    const s = pyStrip(port);
    if (!/^[+-]?\p{Nd}+(?:_\p{Nd}+)*$/u.test(s)) bad();
    n = Number(asciiDigits(s.replaceAll('_', '')));
  } else n = bad();
  if (!Number.isSafeInteger(n)) bad();
  return Object.is(n, -0) ? 0 : n;
}

/** Unicode decimal digits (general category Nd) to ASCII; each Nd run is a contiguous 0-9 block. */
function asciiDigits(s: string): string {
  let out = '';
  for (const ch of s) {
    let cp = ch.codePointAt(0)!;
    if (ch >= '0' && ch <= '9') {
      out += ch;
      continue;
    }
    if (!/\p{Nd}/u.test(ch)) {
      out += ch;
      continue;
    }
    let start = cp;
    while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
    cp = (cp - start) % 10;
    out += String(cp);
  }
  return out;
}

/** BaseSecretsBackend.deserialize_connection: strip(), '{' -> from_json, else a URI. */
export function deserializeConnection(connId: string, value: string): Connection {
  const stripped = pyStrip(value);
  if (stripped.length === 0) {
    // Airflow raises IndexError on `value[0]`.
    throw new ConnectionFormatError('empty_value', 'The connection value is empty or only whitespace.');
  }
  return stripped[0] === '{' ? connectionFromJson(connId, stripped) : connectionFromUri(connId, stripped);
}

/** Connection.extra_dejson as the decoded Python model: {} when extra is empty or not valid JSON. */
export function extraDejsonModel(conn: Connection): PyDict {
  if (!conn.extra) return new Map();
  try {
    const parsed = pyJsonLoads(conn.extra);
    return parsed instanceof Map ? parsed : new Map();
  } catch {
    return new Map();
  }
}

/** Connection.extra_dejson as plain JavaScript ({} when empty or invalid). */
export function extraDejson(conn: Connection): Record<string, unknown> {
  return pyToPlain(extraDejsonModel(conn)) as Record<string, unknown>;
}

function quoteField(s: string): string {
  try {
    return quote(s, '');
  } catch (e) {
    return fromUrlError(e);
  }
}

/** Connection.get_uri, as apache-airflow 3.3.2 core writes it. */
export function connectionToUri(conn: Connection): string {
  let uri = conn.conn_type ? `${conn.conn_type.toLowerCase().replaceAll('_', '-')}://` : '//';

  let hostToUse: string | null = conn.host;
  let protocolToAdd: string | null = null;
  if (conn.host && conn.host.includes('://')) {
    const sep = conn.host.indexOf('://');
    const protocol = conn.host.slice(0, sep);
    // PR #51953: a protocol equal to conn_type is not emitted again; the whole host is quoted.
    if (protocol !== conn.conn_type) {
      hostToUse = conn.host.slice(sep + 3);
      protocolToAdd = protocol;
    }
  }
  if (protocolToAdd) uri += `${protocolToAdd}://`;

  let authority = '';
  if (conn.login !== null) authority += quoteField(conn.login);
  if (conn.password !== null) authority += ':' + quoteField(conn.password);
  if (authority) {
    authority += '@';
    uri += authority;
  }

  let hostBlock = '';
  if (hostToUse) hostBlock += quoteField(hostToUse);
  if (conn.port) hostBlock += hostBlock === '' && authority === '' ? `@:${conn.port}` : `:${conn.port}`;
  if (conn.schema) hostBlock += `/${quoteField(conn.schema)}`;
  uri += hostBlock;

  if (conn.extra) {
    const extraDict = extraDejsonModel(conn);
    const canFlatten = [...extraDict.values()].every((v) => typeof v === 'string');
    const prefix = conn.schema ? '?' : '/?';
    let query = '';
    if (canFlatten) {
      try {
        query = urlencode(extraDict as Map<string, string>);
      } catch (e) {
        fromUrlError(e);
      }
    }
    if (canFlatten && query && sameStringDict(extraDict as Map<string, string>, parseQslDict(query, true))) {
      uri += prefix + query;
    } else {
      uri += prefix + urlencode([[EXTRA_KEY, conn.extra]]);
    }
  }
  return uri;
}

function sameStringDict(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Connection.as_json: to_dict(prune_empty=True) without conn_id; None pruned, '' kept; extra only when non-empty. */
export function connectionToJson(conn: Connection): string {
  const out: PyDict = new Map();
  const put = (k: string, v: string | number | null): void => {
    if (v !== null) out.set(k, typeof v === 'number' ? BigInt(v) : v);
  };
  put('conn_type', conn.conn_type);
  put('description', conn.description);
  put('host', conn.host);
  put('login', conn.login);
  put('password', conn.password);
  put('schema', conn.schema);
  put('port', conn.port);
  const extra = extraDejsonModel(conn);
  if (extra.size > 0) out.set('extra', extra);
  return pythonJsonDumps(out);
}

/** A connection as the API serves it: the same fields, with `extra` parsed. */
export type ConnectionApiView = Omit<Connection, 'extra'> & { extra: Record<string, unknown> | null };

/** The connection for an API response: extra as its parsed object, or null when extra is empty. */
export function connectionToApi(conn: Connection): ConnectionApiView {
  return {
    conn_id: conn.conn_id,
    conn_type: conn.conn_type,
    description: conn.description,
    host: conn.host,
    login: conn.login,
    password: conn.password,
    schema: conn.schema,
    port: conn.port,
    extra: conn.extra ? extraDejson(conn) : null,
  };
}

/**
 * connectionToApi as Python-exact JSON text: extra keeps its key order and its
 * int/float spelling (e.g. `1.0`, big integers), which a JavaScript object loses.
 */
export function connectionToApiJson(conn: Connection): string {
  const out: PyDict = new Map<string, PyValue>([
    ['conn_id', conn.conn_id],
    ['conn_type', conn.conn_type],
    ['description', conn.description],
    ['host', conn.host],
    ['login', conn.login],
    ['password', conn.password],
    ['schema', conn.schema],
    ['port', conn.port === null ? null : BigInt(conn.port)],
    ['extra', conn.extra ? extraDejsonModel(conn) : null],
  ]);
  return pythonJsonDumps(out);
}

// What precedes extra in the API JSON text: every field before it is a string, a number or null,
// in which `, "extra": ` cannot occur (a quote inside a string is escaped), so its first
// occurrence is the top-level key.
const API_EXTRA_KEY = ', "extra": ';

/**
 * A connection as the cache keeps it: the API JSON text that a cache hit sends as it is, plus the
 * raw `extra` only when the text cannot give it back (extra that Python would write differently,
 * empty or not a JSON object). One flat string instead of the parsed object graph: the Connection
 * is rebuilt, exactly, only for what needs it (a URI, a batch lookup, a connection test).
 * Never changed once made: the cache shares one between requests.
 */
export class PackedConnection {
  /** connectionToApiJson of the connection. */
  readonly apiJson: string;
  /** The raw extra when it differs from the API text's extra; undefined: the same text. */
  private readonly rawExtra: string | null | undefined;

  constructor(conn: Connection) {
    this.apiJson = flatString(connectionToApiJson(conn));
    this.rawExtra = conn.extra === this.apiExtraText() ? undefined : conn.extra;
  }

  /** The text's share of a cache's byte budget (what it holds besides fixed overhead). */
  get approximateBytes(): number {
    return this.apiJson.length + (this.rawExtra?.length ?? 0);
  }

  /** The connection, as it was packed (a new object each call). */
  connection(): Connection {
    const at = this.apiJson.indexOf(API_EXTRA_KEY);
    // Python's json.dumps with ensure_ascii writes JSON that JSON.parse reads back exactly
    // (lone surrogates included); extra is left out here because it may hold NaN or Infinity.
    const f = JSON.parse(`${this.apiJson.slice(0, at)}}`) as Omit<Connection, 'extra'>;
    return {
      conn_id: f.conn_id,
      conn_type: f.conn_type,
      description: f.description,
      host: f.host,
      login: f.login,
      password: f.password,
      schema: f.schema,
      port: f.port,
      extra: this.rawExtra !== undefined ? this.rawExtra : this.apiExtraText(),
    };
  }

  /** JSON.stringify (e.g. a fingerprint of the value) sees the Connection, however it is kept. */
  toJSON(): Connection {
    return this.connection();
  }

  private apiExtraText(): string {
    return this.apiJson.slice(this.apiJson.indexOf(API_EXTRA_KEY) + API_EXTRA_KEY.length, -1);
  }
}
