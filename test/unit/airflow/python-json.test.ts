// Python json.loads / json.dumps fidelity.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat, pyFloatRepr, PyJsonDecodeError, PyJsonTypeError, PyJsonValueError, pyJsonLoads, pythonJsonDumps, pyToPlain } from '../../../src/airflow/python-json.ts';

const roundTrip = (s: string): string => pythonJsonDumps(pyJsonLoads(s));

test('json.dumps separators, key order and nesting', () => {
  assert.equal(pythonJsonDumps({ b: 1, a: [1, 'x', null, true, false], c: {} }), '{"b": 1, "a": [1, "x", null, true, false], "c": {}}');
  assert.equal(roundTrip('{"b":1,"1":2}'), '{"b": 1, "1": 2}'); // a JS object would put "1" first
});

test('json.dumps ensure_ascii escapes, lowercase hex, surrogate pairs', () => {
  assert.equal(pythonJsonDumps('é\u2028😀\x7f\x00"\\/\n\t\b\f\r'), '"\\u00e9\\u2028\\ud83d\\ude00\\u007f\\u0000\\"\\\\/\\n\\t\\b\\f\\r"');
});

test('ints and floats keep their Python spelling', () => {
  assert.equal(roundTrip('[1, 1.0, -0.0, 1e16, 1E-7, 0.0001, 1e-05, 123456789012345678901234567890, 1.5e300]'), '[1, 1.0, -0.0, 1e+16, 1e-07, 0.0001, 1e-05, 123456789012345678901234567890, 1.5e+300]');
  assert.equal(roundTrip('[NaN, Infinity, -Infinity, 1e400]'), '[NaN, Infinity, -Infinity, Infinity]');
  assert.equal(pyFloatRepr(1e15), '1000000000000000.0');
  assert.equal(pyFloatRepr(0.1 + 0.2), '0.30000000000000004');
  assert.equal(pythonJsonDumps(new PyFloat(2)), '2.0');
  assert.equal(pythonJsonDumps(2), '2');
});

test('duplicate keys: last value, first position', () => {
  assert.equal(roundTrip('{"a": 1, "b": 2, "a": 3}'), '{"a": 3, "b": 2}');
});

test('lone surrogate escapes are kept unpaired', () => {
  assert.equal(pyJsonLoads('"\\ud800x"'), '\ud800x');
  assert.equal(roundTrip('"\\ud83d\\ude00"'), '"\\ud83d\\ude00"');
});

test('decode errors carry Python msg and line, never the document', () => {
  const cases: Array<[string, string, number]> = [
    ['', 'Expecting value', 1],
    ['{\n"a": 1,\n}', 'Expecting property name enclosed in double quotes', 3],
    ['[1,]', 'Expecting value', 1],
    ['{"a" 1}', "Expecting ':' delimiter", 1],
    ['[1 2]', "Expecting ',' delimiter", 1],
    ['"abc', 'Unterminated string starting at', 1],
    ['"a\nb"', 'Invalid control character at', 1],
    ['"\\x"', 'Invalid \\escape', 1],
    ['"\\u12"', 'Invalid \\uXXXX escape', 1],
    ['{} x', 'Extra data', 1],
    ['01', 'Extra data', 1],
    ['\ufeff{}', 'Unexpected UTF-8 BOM (decode using utf-8-sig)', 1],
  ];
  for (const [doc, msg, line] of cases) {
    assert.throws(() => pyJsonLoads(doc), (e: unknown) => e instanceof PyJsonDecodeError && e.msg === msg && e.lineno === line, JSON.stringify(doc));
  }
  try {
    pyJsonLoads('{"password": "hunter2" x}');
  } catch (e) {
    assert.ok(!(e as Error).message.includes('hunter2'));
  }
});

test('an int over 4300 digits is a ValueError, not a JSONDecodeError', () => {
  assert.throws(() => pyJsonLoads('1'.repeat(4301)), PyJsonValueError);
  assert.doesNotThrow(() => pyJsonLoads('1'.repeat(4300)));
});

test('json.dumps rejects what Python cannot serialize', () => {
  assert.throws(() => pythonJsonDumps(new Set([1])), PyJsonTypeError);
});

test('pyToPlain gives plain objects, a __proto__ key as an own property', () => {
  const plain = pyToPlain(pyJsonLoads('{"__proto__": {"x": 1}, "n": 9007199254740993}')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(plain), Object.prototype);
  assert.deepEqual(Object.keys(plain), ['__proto__', 'n']);
  assert.equal(plain['n'], 9007199254740993n);
});
