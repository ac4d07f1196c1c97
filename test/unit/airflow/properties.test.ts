// Property tests of the round-trip invariants Airflow guarantees (fixed seed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PackedConnection, connectionFromJson, connectionFromUri, connectionToApiJson, connectionToJson, connectionToUri, type Connection } from '../../../src/airflow/connection.ts';
import { pyJsonLoads, pythonJsonDumps } from '../../../src/airflow/python-json.ts';
import { parseQsl, quote, quotePlus, unquote, unquotePlus, urlencode } from '../../../src/airflow/python-url.ts';

const params = { seed: 4242, numRuns: 500 };
// Well-formed text (no unpaired surrogates, which Python cannot encode).
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const nonEmpty = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });

test('unquote(quote(s, safe="")) == s', () => {
  fc.assert(fc.property(text, (s) => unquote(quote(s, '')) === s), params);
});

test('quote(s, safe="") uses only unreserved characters and %XX', () => {
  fc.assert(fc.property(text, (s) => /^(?:[A-Za-z0-9_.~-]|%[0-9A-F]{2})*$/.test(quote(s, ''))), params);
});

test('unquote_plus(quote_plus(s)) == s', () => {
  fc.assert(fc.property(text, (s) => unquotePlus(quotePlus(s)) === s), params);
});

test('parse_qsl(urlencode(pairs), keep_blank_values=True) == pairs (for non-empty keys)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(nonEmpty, text), { maxLength: 5 }), (pairs) => {
      assert.deepEqual(parseQsl(urlencode(pairs), true), pairs);
    }),
    params,
  );
});

test('unquote never throws and returns well-formed text for ASCII input', () => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom('%', 'A', 'f', '0', '9', 'E', 'D', '8', 'z', '+') }), (s) => unquote(s).isWellFormed()), params);
});

test('json.dumps(json.loads(json.dumps(x))) == json.dumps(x)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const once = pythonJsonDumps(v);
      return pythonJsonDumps(pyJsonLoads(once)) === once;
    }),
    params,
  );
});

// Connections in the shape Airflow's round trips preserve.
const connType = fc.stringMatching(/^[a-z][a-z0-9]{0,6}(?:_[a-z0-9]{1,4})?$/).filter((t) => t !== 'postgresql');
// A host containing '://' is a host-with-protocol, which get_uri splits; covered by unit tests.
const hostText = fc.stringMatching(/^[a-z0-9][a-z0-9.\-/:@ ]{0,12}$/).filter((h) => !h.includes('://'));
const stringExtra = fc
  .dictionary(nonEmpty, text.map((s) => 'x' + s), { maxKeys: 3 })
  .map((d) => (Object.keys(d).length ? pythonJsonDumps(d) : null));
const anyExtra = fc.oneof(stringExtra, fc.dictionary(nonEmpty, fc.jsonValue(), { minKeys: 1, maxKeys: 3 }).map((d) => pythonJsonDumps(d)));

const uriSafeConnection = fc.record({
  conn_id: fc.constant('c'),
  conn_type: connType,
  description: fc.constant(null),
  host: hostText,
  login: nonEmpty,
  password: nonEmpty,
  schema: nonEmpty,
  port: fc.integer({ min: 1, max: 65535 }),
  extra: anyExtra,
}).map((r) => ({ ...r })) as fc.Arbitrary<Connection>;

test('from_uri(get_uri(c)) preserves every field Airflow keeps (lower-case host, non-empty parts)', () => {
  fc.assert(
    fc.property(uriSafeConnection, (c) => {
      const back = connectionFromUri('c', connectionToUri(c));
      // String extra values are written flat; they start with 'x' so they never re-parse as JSON.
      assert.deepEqual(back, c);
    }),
    params,
  );
});

const jsonConnection = fc.record({
  conn_id: fc.constant('c'),
  conn_type: fc.option(connType, { nil: null }),
  description: fc.option(text, { nil: null }),
  host: fc.option(text, { nil: null }),
  login: fc.option(text, { nil: null }),
  password: fc.option(nonEmpty, { nil: null }),
  schema: fc.option(text, { nil: null }),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
  extra: fc.option(anyExtra, { nil: null }),
}).map((r) => ({ ...r })) as fc.Arbitrary<Connection>;

test('from_json(as_json(c)) == c', () => {
  fc.assert(
    fc.property(jsonConnection, (c) => {
      assert.deepEqual(connectionFromJson('c', connectionToJson(c)), c);
    }),
    params,
  );
});

test('get_uri is stable: get_uri(from_uri(get_uri(c))) == get_uri(c) for URI-safe connections', () => {
  fc.assert(
    fc.property(uriSafeConnection, (c) => {
      const uri = connectionToUri(c);
      return connectionToUri(connectionFromUri('c', uri)) === uri;
    }),
    params,
  );
});

// The cache keeps a connection packed (its API JSON text, plus the raw extra when that text cannot give
// it back): what it unpacks is the connection it was given, field for field and in the same key order.
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
const anyText = fc.string({ unit: 'binary', maxLength: 12 }); // lone surrogates included
const extraText = fc.oneof(
  anyText,
  fc.constantFrom('', '{}', 'null', '[1]', '{"a":1}', '{"a": 1.0, "b": NaN}', '{"big": 123456789012345678901234567890}', '{"a": {"b": [1, "x"]}}', '{"é": "\\ud800"}', '{"a": 1, "a": 2}'),
  fc.dictionary(nonEmpty, fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null))).map((d) => pythonJsonDumps(new Map(Object.entries(d)))),
);
const connection: fc.Arbitrary<Connection> = fc.record({
  conn_id: nonEmpty,
  conn_type: maybe(anyText),
  description: maybe(anyText),
  host: maybe(anyText),
  login: maybe(anyText),
  password: maybe(anyText),
  schema: maybe(anyText),
  port: maybe(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  extra: maybe(extraText),
});

test('PackedConnection: connection() gives back the connection it was made from; apiJson is connectionToApiJson', () => {
  fc.assert(
    fc.property(connection, (conn) => {
      const packed = new PackedConnection(conn);
      assert.equal(packed.apiJson, connectionToApiJson(conn));
      const back = packed.connection();
      assert.deepEqual(back, { ...conn });
      assert.equal(JSON.stringify(back), JSON.stringify(conn));
    }),
    params,
  );
});
