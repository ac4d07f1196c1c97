// PyYAML's `yaml.safe_load` (YAML 1.1), which Airflow's LocalFilesystemBackend
// uses through airflow/utils/yaml.py (CSafeLoader when libyaml is present).
// The `yaml` package parses the text; every scalar is then resolved and
// constructed here with PyYAML's own rules (yaml/resolver.py, yaml/constructor.py
// SafeConstructor), because its YAML 1.1 schema differs from PyYAML's:
//   - booleans are only yes/no/true/false/on/off in three casings (not y/n);
//   - a float needs a '.', and a signed exponent (`1e5` and `1.0e5` are strings);
//   - `08` is a string, `0o7` a string, `0b_` a ValueError, `=` a ConstructorError;
//   - duplicate keys are allowed (the last value wins, in the first key's place);
//   - merge keys (`<<`) put merged pairs before the mapping's own pairs.
// Values use the Python model of python-json.ts (int -> bigint, float -> PyFloat,
// dict -> Map), plus PyDate (date/datetime), Uint8Array (!!binary) and Set (!!set).

import { Alias, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { PyDate, PyFloat, pyFloatRepr } from './python-json.ts';

/**
 * Why safe_load failed. `line` is PyYAML's `problem_mark.line`, which is
 * 0-based (Airflow reports it unchanged); null when PyYAML raises an error
 * without a mark. The message never contains document text.
 */
export class YamlLoadError extends Error {
  readonly line: number | null;
  constructor(reason: string, line: number | null) {
    super(reason);
    this.name = 'YamlLoadError';
    this.line = line;
  }
}

/** A YAML mapping key as PyYAML constructs it (any hashable scalar). */
export type YamlKey = string | bigint | PyFloat | boolean | null | PyDate;

/** The top-level mapping with its keys as constructed (not converted to strings). */
export interface YamlTopLevelMapping {
  readonly entries: ReadonlyArray<readonly [YamlKey, unknown]>;
}

const TAG = 'tag:yaml.org,2002:';

// Implicit resolvers, in PyYAML's registration order, with the first
// characters each one is registered for.
const RESOLVERS: ReadonlyArray<{ tag: string; re: RegExp; first: string | null }> = [
  { tag: 'bool', re: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/, first: 'yYnNtTfFoO' },
  {
    tag: 'float',
    re: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    first: '-+0123456789.',
  },
  {
    tag: 'int',
    re: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
    first: '-+0123456789',
  },
  { tag: 'merge', re: /^<<$/, first: '<' },
  { tag: 'null', re: /^(?:~|null|Null|NULL|)$/, first: '~nN' },
  {
    tag: 'timestamp',
    re: /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
    first: '0123456789',
  },
  { tag: 'value', re: /^=$/, first: '=' },
];

/** Resolver.resolve for a plain, untagged scalar. */
function resolvePlain(value: string): string {
  for (const r of RESOLVERS) {
    // The empty scalar is registered only for null.
    const applies = value === '' ? r.tag === 'null' : r.first !== null && r.first.includes(value[0]!);
    if (applies && r.re.test(value)) return TAG + r.tag;
  }
  return TAG + 'str';
}

const TIMESTAMP =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;

class ConstructError extends Error {
  readonly node: Node | null;
  constructor(reason: string, node: Node | null) {
    super(reason);
    this.node = node;
  }
}

function constructInt(text: string): bigint {
  let v = text.replaceAll('_', '');
  const sign = v[0] === '-' ? -1n : 1n;
  if (v[0] === '-' || v[0] === '+') v = v.slice(1);
  const bad = (): never => {
    throw new ConstructError('invalid literal for int()', null);
  };
  if (v === '0') return 0n;
  if (v.startsWith('0b')) return v.length > 2 && /^[01]+$/.test(v.slice(2)) ? sign * BigInt('0b' + v.slice(2)) : bad();
  if (v.startsWith('0x')) return v.length > 2 && /^[0-9a-fA-F]+$/.test(v.slice(2)) ? sign * BigInt('0x' + v.slice(2)) : bad();
  if (v[0] === '0') return /^[0-7]+$/.test(v) ? sign * BigInt('0o' + v) : bad();
  if (v.includes(':')) {
    let value = 0n;
    let base = 1n;
    for (const part of v.split(':').reverse()) {
      value += BigInt(part) * base;
      base *= 60n;
    }
    return sign * value;
  }
  if (v.length > 4300) bad();
  return sign * BigInt(v);
}

function constructFloat(text: string): PyFloat {
  let v = text.replaceAll('_', '').toLowerCase();
  const sign = v[0] === '-' ? -1 : 1;
  if (v[0] === '-' || v[0] === '+') v = v.slice(1);
  if (v === '.inf') return new PyFloat(sign * Infinity);
  if (v === '.nan') return new PyFloat(NaN);
  if (v.includes(':')) {
    let value = 0;
    let base = 1;
    for (const part of v.split(':').reverse()) {
      value += Number(part) * base;
      base *= 60;
    }
    return new PyFloat(sign * value);
  }
  return new PyFloat(sign * Number(v));
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function constructTimestamp(text: string): PyDate {
  const m = TIMESTAMP.exec(text);
  if (!m) throw new ConstructError('not a timestamp', null);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new ConstructError('day is out of range for month', null);
  }
  if (m[4] === undefined) return new PyDate(new Date(Date.UTC(year, month - 1, day)), false);
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (hour > 23 || minute > 59 || second > 59) throw new ConstructError('time is out of range', null);
  const micro = Number((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    offsetMinutes = (Number(m[10]) * 60 + Number(m[11] ?? 0)) * (m[9] === '-' ? -1 : 1);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, Math.floor(micro / 1000)) - offsetMinutes * 60_000;
  return new PyDate(new Date(utc), true);
}

function constructBinary(text: string): Uint8Array {
  // base64.decodebytes ignores characters outside the alphabet.
  const cleaned = text.replace(/[^A-Za-z0-9+/=]/g, '');
  if (cleaned.replace(/=+$/, '').length % 4 === 1) throw new ConstructError('failed to decode base64 data', null);
  return Uint8Array.from(Buffer.from(cleaned, 'base64'));
}

/** SafeConstructor for a scalar, given its resolved tag. */
function constructScalar(node: Scalar, tag: string): unknown {
  const text = String(node.value ?? '');
  switch (tag) {
    case TAG + 'str':
      return text;
    case TAG + 'null':
      return null;
    case TAG + 'bool': {
      const b = ({ yes: true, no: false, true: true, false: false, on: true, off: false } as Record<string, boolean>)[text.toLowerCase()];
      if (b === undefined) throw new ConstructError('not a boolean', node);
      return b;
    }
    case TAG + 'int':
      return constructInt(text);
    case TAG + 'float':
      return constructFloat(text);
    case TAG + 'timestamp':
      return constructTimestamp(text);
    case TAG + 'binary':
      return constructBinary(text);
    default:
      throw new ConstructError('could not determine a constructor for the tag', node);
  }
}

function isMergeKey(node: unknown): boolean {
  if (!isScalar(node)) return false;
  if (node.tag !== undefined) return node.tag === TAG + 'merge';
  return node.type === 'PLAIN' && node.value === '<<';
}

function keyDisplayString(key: unknown): string {
  // json.dumps' key coercion: what the key becomes once the dict is serialized.
  if (typeof key === 'string') return key;
  if (typeof key === 'bigint') return key.toString();
  if (key instanceof PyFloat) return Number.isNaN(key.value) ? 'NaN' : Number.isFinite(key.value) ? pyFloatRepr(key.value) : key.value > 0 ? 'Infinity' : '-Infinity';
  if (key === true) return 'true';
  if (key === false) return 'false';
  if (key === null) return 'null';
  if (key instanceof PyDate) return key.hasTime ? key.date.toISOString() : key.date.toISOString().slice(0, 10);
  throw new ConstructError('found unhashable key', null);
}

/** Python dict key equality, approximately: 1, 1.0 and True are one key. */
function keyIdentity(key: unknown): string {
  if (typeof key === 'string') return 's' + key;
  if (typeof key === 'bigint') return 'n' + key.toString();
  if (key === true) return 'n1';
  if (key === false) return 'n0';
  if (key instanceof PyFloat) return Number.isInteger(key.value) ? 'n' + BigInt(key.value).toString() : 'f' + String(key.value);
  if (key === null) return 'z';
  return 'o' + keyDisplayString(key);
}

class Constructor {
  private readonly doc: Document;
  private readonly done = new Map<Node, unknown>();
  private readonly inProgress = new Set<Node>();

  constructor(doc: Document) {
    this.doc = doc;
  }

  private deref(node: unknown): Node | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = (node as Alias).resolve(this.doc);
      if (!target) throw new ConstructError('found undefined alias', node as Alias);
      return target as Node;
    }
    return node as Node;
  }

  /** flatten_mapping: merged pairs first (later sources first within a list), then the mapping's own pairs. */
  private flatten(map: YAMLMap): Array<Pair<unknown, unknown>> {
    const merge: Array<Pair<unknown, unknown>> = [];
    const own: Array<Pair<unknown, unknown>> = [];
    for (const pair of map.items as Array<Pair<unknown, unknown>>) {
      if (!isMergeKey(pair.key)) {
        own.push(pair);
        continue;
      }
      const value = this.deref(pair.value);
      if (isMap(value)) {
        merge.push(...this.flatten(value));
      } else if (isSeq(value)) {
        const submerge: Array<Array<Pair<unknown, unknown>>> = [];
        for (const item of value.items) {
          const sub = this.deref(item);
          if (!isMap(sub)) throw new ConstructError('expected a mapping for merging', sub ?? value);
          submerge.push(this.flatten(sub));
        }
        for (const pairs of submerge.reverse()) merge.push(...pairs);
      } else {
        throw new ConstructError('expected a mapping or list of mappings for merging', value);
      }
    }
    return [...merge, ...own];
  }

  /** construct_mapping: keys as constructed, Python dict semantics (last value, first position). */
  mappingEntries(map: YAMLMap): Array<[unknown, unknown]> {
    const byIdentity = new Map<string, [unknown, unknown]>();
    for (const pair of this.flatten(map)) {
      const keyNode = this.deref(pair.key);
      // A `=` key is a str (flatten_mapping retags it).
      const key = isScalar(keyNode) && keyNode.tag === undefined && keyNode.type === 'PLAIN' && keyNode.value === '=' ? '=' : this.construct(keyNode);
      if (Array.isArray(key) || key instanceof Map || key instanceof Set || key instanceof Uint8Array) {
        throw new ConstructError('found unhashable key', keyNode);
      }
      const value = this.construct(this.deref(pair.value));
      const id = keyIdentity(key);
      const existing = byIdentity.get(id);
      if (existing) existing[1] = value;
      else byIdentity.set(id, [key, value]);
    }
    return [...byIdentity.values()];
  }

  construct(node: Node | null): unknown {
    if (node === null) return null;
    const cached = this.done.get(node);
    if (cached !== undefined || this.done.has(node)) return cached;
    if (this.inProgress.has(node)) throw new ConstructError('recursive structures are not supported', node);
    this.inProgress.add(node);
    const value = this.build(node);
    this.inProgress.delete(node);
    this.done.set(node, value);
    return value;
  }

  private build(node: Node): unknown {
    if (isScalar(node)) {
      let tag = node.tag;
      if (tag === undefined) tag = node.type === 'PLAIN' ? resolvePlain(String(node.value ?? '')) : TAG + 'str';
      else if (tag === '!') tag = TAG + 'str';
      try {
        return constructScalar(node, tag);
      } catch (e) {
        if (e instanceof ConstructError && e.node === null) throw new ConstructError(e.message, node);
        throw e;
      }
    }
    if (isMap(node)) {
      const tag = node.tag;
      if (tag === TAG + 'set') return new Set(this.mappingEntries(node).map(([k]) => k));
      if (tag !== undefined && tag !== TAG + 'map') throw new ConstructError('could not determine a constructor for the tag', node);
      const dict = new Map<string, unknown>();
      for (const [k, v] of this.mappingEntries(node)) dict.set(keyDisplayString(k), v);
      return dict;
    }
    if (isSeq(node)) {
      const tag = node.tag;
      const items = node.items.map((item) => this.deref(item));
      if (tag === TAG + 'omap' || tag === TAG + 'pairs') {
        // A list of (key, value) tuples; json.dumps writes a tuple as a list.
        return items.map((item) => {
          if (!isMap(item) || item.items.length !== 1) throw new ConstructError('expected a single mapping item', item ?? node);
          const [[k, v]] = this.mappingEntries(item) as [[unknown, unknown]];
          return [k, v];
        });
      }
      if (tag !== undefined && tag !== TAG + 'seq') throw new ConstructError('could not determine a constructor for the tag', node);
      return items.map((item) => this.construct(item));
    }
    throw new ConstructError('unexpected node', node);
  }
}

export interface SafeLoadResult {
  /** The document as constructed; a top-level mapping is given as `YamlTopLevelMapping`. */
  readonly value: unknown;
}

/**
 * yaml.safe_load(text). A top-level mapping comes back as YamlTopLevelMapping
 * (keys as constructed, for Airflow's per-key processing); nested mappings are
 * Maps with keys converted the way json.dumps converts them.
 */
export function pyYamlSafeLoad(text: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    schema: 'failsafe',
    uniqueKeys: false,
    merge: false,
    prettyErrors: false,
    lineCounter,
  });
  const lineOf = (offset: number | undefined): number | null => (offset === undefined ? null : lineCounter.linePos(offset).line - 1);
  const first = doc.errors[0];
  if (first) throw new YamlLoadError('YAML syntax error', lineOf(first.pos[0]));
  const ctor = new Constructor(doc);
  try {
    const root = doc.contents as Node | null;
    if (isMap(root) && (root.tag === undefined || root.tag === TAG + 'map')) {
      const entries = ctor.mappingEntries(root) as Array<[YamlKey, unknown]>;
      return { entries } satisfies YamlTopLevelMapping;
    }
    return ctor.construct(root);
  } catch (e) {
    if (e instanceof ConstructError) throw new YamlLoadError(`YAML constructor error: ${e.message}`, lineOf(e.node?.range?.[0]));
    throw e;
  }
}

export function isYamlTopLevelMapping(v: unknown): v is YamlTopLevelMapping {
  return typeof v === 'object' && v !== null && 'entries' in v && Array.isArray((v as YamlTopLevelMapping).entries) && !(v instanceof Map);
}
