// Python's `json` module, byte for byte. Airflow stores a Connection's extra
// as the text `json.dumps` writes, and reads every JSON secret with
// `json.loads` (Lib/json/__init__.py, Lib/json/decoder.py, Modules/_json.c),
// so three differences from JSON.parse/JSON.stringify matter:
//   - numbers: Python keeps `1` (int, arbitrary size) apart from `1.0` (float),
//     accepts NaN / Infinity / -Infinity, and writes floats with repr();
//   - key order: a Python dict keeps insertion order even for keys like "1",
//     which a JavaScript object would move to the front;
//   - output: separators ", " and ": ", and ensure_ascii escaping.
// Decoded values therefore use this model:
//   int -> bigint, float -> PyFloat, dict -> Map (PyDict), list -> array,
//   str -> string, bool -> boolean, None -> null.

import { pyLen } from './python-text.ts';

/** A Python float: kept apart from int so that `1.0` is written back as `1.0`. */
export class PyFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export type PyDict = Map<string, PyValue>;
export type PyValue = null | boolean | string | bigint | PyFloat | PyValue[] | PyDict;

/** Python's bool() of a value decoded by json.loads, read from YAML or given by a caller: None,
 * False, "", 0, 0.0 and empty containers are false. The one copy of the rule (Airflow applies it to
 * get_conn_value's result, a Vault conn_uri, a connection's fields and its port). */
export function pyTruthy(v: unknown): boolean {
  if (v instanceof PyFloat) return v.value !== 0;
  if (v instanceof Map || v instanceof Set) return v.size > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** json.JSONDecodeError: Python's `msg` (never the document), with its position. */
export class PyJsonDecodeError extends Error {
  readonly msg: string;
  readonly pos: number;
  readonly lineno: number;
  readonly colno: number;
  constructor(msg: string, doc: string, pos: number) {
    const lineno = countNewlines(doc, pos) + 1;
    const lineStart = doc.lastIndexOf('\n', pos - 1) + 1;
    const colno = pyLen(doc.slice(lineStart, pos)) + 1;
    super(`${msg}: line ${lineno} column ${colno}`);
    this.name = 'PyJsonDecodeError';
    this.msg = msg;
    this.pos = pos;
    this.lineno = lineno;
    this.colno = colno;
  }
}

/**
 * A ValueError (not a JSONDecodeError) that Python's json.loads lets escape:
 * an int literal over CPython's 4300-digit conversion limit, or nesting deeper
 * than the recursion limit. Airflow code that catches only JSONDecodeError does
 * not catch these.
 */
export class PyJsonValueError extends Error {
  readonly reason: 'int_too_large' | 'too_deep';
  constructor(reason: 'int_too_large' | 'too_deep') {
    super(reason === 'int_too_large' ? 'Integer literal exceeds the 4300-digit limit.' : 'JSON nesting is too deep.');
    this.name = 'PyJsonValueError';
    this.reason = reason;
  }
}

/** json.dumps raising TypeError: "Object of type X is not JSON serializable". */
export class PyJsonTypeError extends Error {
  constructor(typeName: string) {
    super(`Object of type ${typeName} is not JSON serializable`);
    this.name = 'PyJsonTypeError';
  }
}

function countNewlines(doc: string, end: number): number {
  let n = 0;
  for (let i = doc.indexOf('\n'); i !== -1 && i < end; i = doc.indexOf('\n', i + 1)) n++;
  return n;
}

// CPython's default sys.get_int_max_str_digits() (3.11+).
const INT_MAX_STR_DIGITS = 4300;
// The C scanner recurses once per container; Python's default recursion limit is 1000.
const MAX_DEPTH = 1000;

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const HEX = /^[0-9a-fA-F]{4}$/;

/** Python `json.loads(s)` for a str argument. */
export function pyJsonLoads(doc: string): PyValue {
  if (doc.startsWith('\ufeff')) throw new PyJsonDecodeError('Unexpected UTF-8 BOM (decode using utf-8-sig)', doc, 0);
  let i = 0;
  const skipWs = (): void => {
    while (isWs(doc[i])) i++;
  };

  const scanString = (): string => {
    // doc[i] is the opening quote.
    const begin = i;
    i++;
    let out = '';
    for (;;) {
      let j = i;
      while (j < doc.length) {
        const c = doc.charCodeAt(j);
        if (c === 0x22 || c === 0x5c) break;
        if (c < 0x20) throw new PyJsonDecodeError('Invalid control character at', doc, j);
        j++;
      }
      if (j >= doc.length) throw new PyJsonDecodeError('Unterminated string starting at', doc, begin);
      out += doc.slice(i, j);
      i = j;
      if (doc[i] === '"') {
        i++;
        return out;
      }
      // Backslash escape.
      i++;
      if (i >= doc.length) throw new PyJsonDecodeError('Unterminated string starting at', doc, begin);
      const esc = doc[i];
      if (esc !== 'u') {
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        const v = esc === undefined ? undefined : simple[esc];
        if (v === undefined) throw new PyJsonDecodeError('Invalid \\escape', doc, i - 1);
        out += v;
        i++;
        continue;
      }
      i++;
      const hex = doc.slice(i, i + 4);
      if (!HEX.test(hex)) throw new PyJsonDecodeError('Invalid \\uXXXX escape', doc, i - 1);
      let cp = parseInt(hex, 16);
      i += 4;
      // A high surrogate followed by an escaped low surrogate makes one code point;
      // anything else leaves the surrogate unpaired, as CPython does.
      if (cp >= 0xd800 && cp <= 0xdbff && doc[i] === '\\' && doc[i + 1] === 'u') {
        const hex2 = doc.slice(i + 2, i + 6);
        if (!HEX.test(hex2)) throw new PyJsonDecodeError('Invalid \\uXXXX escape', doc, i + 1);
        const lo = parseInt(hex2, 16);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 6;
        }
      }
      out += String.fromCodePoint(cp);
    }
  };

  const scanNumber = (): PyValue | undefined => {
    const start = i;
    let j = i;
    if (doc[j] === '-') j++;
    const c = doc[j];
    if (c !== undefined && c >= '1' && c <= '9') {
      j++;
      while (j < doc.length && doc[j]! >= '0' && doc[j]! <= '9') j++;
    } else if (c === '0') {
      j++;
    } else {
      return undefined;
    }
    let isFloat = false;
    if (doc[j] === '.' && doc[j + 1] !== undefined && doc[j + 1]! >= '0' && doc[j + 1]! <= '9') {
      j += 2;
      while (j < doc.length && doc[j]! >= '0' && doc[j]! <= '9') j++;
      isFloat = true;
    }
    if (doc[j] === 'e' || doc[j] === 'E') {
      let k = j + 1;
      if (doc[k] === '-' || doc[k] === '+') k++;
      const digitsStart = k;
      while (k < doc.length && doc[k]! >= '0' && doc[k]! <= '9') k++;
      if (k > digitsStart) {
        j = k;
        isFloat = true;
      }
    }
    const text = doc.slice(start, j);
    i = j;
    if (isFloat) return new PyFloat(Number(text));
    const digits = text.startsWith('-') ? text.length - 1 : text.length;
    if (digits > INT_MAX_STR_DIGITS) throw new PyJsonValueError('int_too_large');
    return BigInt(text);
  };

  const scanValue = (depth: number): PyValue => {
    const c = doc[i];
    if (c === '"') return scanString();
    if (c === '{') return scanObject(depth + 1);
    if (c === '[') return scanArray(depth + 1);
    if (c === 'n' && doc.startsWith('null', i)) {
      i += 4;
      return null;
    }
    if (c === 't' && doc.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (c === 'f' && doc.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (c === 'N' && doc.startsWith('NaN', i)) {
      i += 3;
      return new PyFloat(NaN);
    }
    if (c === 'I' && doc.startsWith('Infinity', i)) {
      i += 8;
      return new PyFloat(Infinity);
    }
    if (c === '-' && doc.startsWith('-Infinity', i)) {
      i += 9;
      return new PyFloat(-Infinity);
    }
    const n = scanNumber();
    if (n === undefined) throw new PyJsonDecodeError('Expecting value', doc, i);
    return n;
  };

  const scanObject = (depth: number): PyDict => {
    if (depth > MAX_DEPTH) throw new PyJsonValueError('too_deep');
    i++;
    const obj: PyDict = new Map();
    skipWs();
    if (doc[i] === '}') {
      i++;
      return obj;
    }
    for (;;) {
      if (doc[i] !== '"') throw new PyJsonDecodeError('Expecting property name enclosed in double quotes', doc, i);
      const key = scanString();
      skipWs();
      if (doc[i] !== ':') throw new PyJsonDecodeError("Expecting ':' delimiter", doc, i);
      i++;
      skipWs();
      obj.set(key, scanValue(depth));
      skipWs();
      if (doc[i] === '}') {
        i++;
        return obj;
      }
      if (doc[i] !== ',') throw new PyJsonDecodeError("Expecting ',' delimiter", doc, i);
      i++;
      skipWs();
    }
  };

  const scanArray = (depth: number): PyValue[] => {
    if (depth > MAX_DEPTH) throw new PyJsonValueError('too_deep');
    i++;
    const arr: PyValue[] = [];
    skipWs();
    if (doc[i] === ']') {
      i++;
      return arr;
    }
    for (;;) {
      arr.push(scanValue(depth));
      skipWs();
      if (doc[i] === ']') {
        i++;
        return arr;
      }
      if (doc[i] !== ',') throw new PyJsonDecodeError("Expecting ',' delimiter", doc, i);
      i++;
      skipWs();
    }
  };

  skipWs();
  const value = scanValue(0);
  skipWs();
  if (i !== doc.length) throw new PyJsonDecodeError('Extra data', doc, i);
  return value;
}

/** Python `repr(float)`: shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa = '', expText = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1) || '0';
    return `${sign}${intPart}.${frac}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

function jsonFloat(x: number): string {
  // json.encoder.floatstr: allow_nan=True writes the JavaScript spellings.
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pyFloatRepr(x);
}

/** json.encoder.py_encode_basestring_ascii: every char outside ' '..'~' is escaped, lowercase hex. */
export function pyJsonQuoteString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    // UTF-16 code units are exactly the \uXXXX pairs Python writes for astral chars.
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + '"';
}

function dictKey(k: unknown): string {
  // json.dumps coerces these key types to str; anything else is a TypeError.
  if (typeof k === 'string') return k;
  if (typeof k === 'bigint') return k.toString();
  if (k instanceof PyFloat) return jsonFloat(k.value);
  if (typeof k === 'number') return Number.isInteger(k) ? BigInt(k).toString() : jsonFloat(k);
  if (k === true) return 'true';
  if (k === false) return 'false';
  if (k === null) return 'null';
  throw new PyJsonTypeError('keys must be str, int, float, bool or None');
}

/**
 * Python `json.dumps(value)` with default arguments.
 *
 * Accepts the decoded model (bigint/PyFloat/Map) and plain JavaScript values.
 * A plain JavaScript number has no int/float distinction, so an integral number
 * is written as an int (`42`) and any other as a float; wrap it in PyFloat to
 * force float output (`42.0`).
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return pyJsonQuoteString(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof PyFloat) return jsonFloat(value.value);
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return BigInt(value).toString();
    return jsonFloat(value);
  }
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (value instanceof Map) {
    if (value.size === 0) return '{}';
    const parts: string[] = [];
    for (const [k, v] of value) parts.push(`${pyJsonQuoteString(dictKey(k))}: ${pythonJsonDumps(v)}`);
    return `{${parts.join(', ')}}`;
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    return `{${entries.map(([k, v]) => `${pyJsonQuoteString(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  throw new PyJsonTypeError(pyTypeName(value));
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The Python class name of a decoded value, for messages such as "Unexpected value type". */
export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'bigint') return 'int';
  if (value instanceof PyFloat) return 'float';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Map) return 'dict';
  if (value instanceof Set) return 'set';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PyDate) return value.hasTime ? 'datetime.datetime' : 'datetime.date';
  if (typeof value === 'object' && isPlainObject(value)) return 'dict';
  return 'object';
}

/** A YAML timestamp: PyYAML gives datetime.date or datetime.datetime, which json.dumps rejects. */
export class PyDate {
  readonly date: Date;
  readonly hasTime: boolean;
  constructor(date: Date, hasTime: boolean) {
    this.date = date;
    this.hasTime = hasTime;
  }
}

/**
 * The decoded model as plain JavaScript: dict -> object (own properties, in
 * insertion order where JavaScript allows it: integer-like keys move first),
 * int -> number (bigint when beyond Number.MAX_SAFE_INTEGER), float -> number.
 * Lossy by nature; use pythonJsonDumps on the model for exact text.
 */
export function pyToPlain(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return value.map(pyToPlain);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      // defineProperty, so that a "__proto__" key is an own property, not a prototype.
      Object.defineProperty(out, dictKey(k), { value: pyToPlain(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
