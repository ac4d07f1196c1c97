// PyYAML safe_load (YAML 1.1) resolution rules, as checked against PyYAML 6.0.3.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pyYamlSafeLoad, YamlLoadError, type YamlTopLevelMapping } from '../../../src/airflow/yaml-safe-load.ts';
import { pythonJsonDumps } from '../../../src/airflow/python-json.ts';

const scalar = (text: string): string => {
  const doc = pyYamlSafeLoad(`v: ${text}\n`) as YamlTopLevelMapping;
  return pythonJsonDumps(doc.entries[0]![1]);
};

test('booleans are YAML 1.1 words, but not y/n', () => {
  for (const t of ['yes', 'Yes', 'YES', 'on', 'ON', 'true', 'True']) assert.equal(scalar(t), 'true', t);
  for (const t of ['no', 'Off', 'FALSE']) assert.equal(scalar(t), 'false', t);
  for (const t of ['y', 'n', 'Y', 'tRUE']) assert.equal(scalar(t), JSON.stringify(t), t);
});

test('null: ~, null, Null, NULL, empty; None is a string', () => {
  for (const t of ['~', 'null', 'Null', 'NULL', '']) assert.equal(scalar(t), 'null', t);
  assert.equal(scalar('None'), '"None"');
});

test('ints: decimal, octal, hex, binary, underscores, sexagesimal; 08 is a string', () => {
  const cases: Array<[string, string]> = [['1_000', '1000'], ['010', '8'], ['0x1F', '31'], ['0b101', '5'], ['-1:30', '-90'], ['+5', '5'], ['08', '"08"'], ['0o7', '"0o7"']];
  for (const [t, want] of cases) assert.equal(scalar(t), want, t);
});

test('floats need a dot, and a signed exponent', () => {
  const cases: Array<[string, string]> = [['1.5', '1.5'], ['1.', '1.0'], ['.5', '0.5'], ['1.0e+5', '100000.0'], ['1e5', '"1e5"'], ['1.0e5', '"1.0e5"'], ['-.5', '"-.5"'], ['.inf', 'Infinity'], ['-.INF', '-Infinity'], ['.nan', 'NaN'], ['1:30.5', '90.5']];
  for (const [t, want] of cases) assert.equal(scalar(t), want, t);
});

test('quoted and explicitly tagged scalars', () => {
  assert.equal(scalar('"1"'), '"1"');
  assert.equal(scalar('!!str 1'), '"1"');
  assert.equal(scalar('!!int "12"'), '12');
  assert.equal(scalar('!!float "1"'), '1.0');
});

test('timestamps are dates (json.dumps cannot write them); invalid dates fail', () => {
  assert.throws(() => scalar('2001-12-14'), /not JSON serializable/);
  assert.throws(() => pyYamlSafeLoad('v: 2001-02-29\n'), YamlLoadError);
});

test('"=" as a value has no constructor; as a key it is a string', () => {
  assert.throws(() => pyYamlSafeLoad('v: =\n'), YamlLoadError);
  assert.equal((pyYamlSafeLoad('=: v\n') as YamlTopLevelMapping).entries[0]![0], '=');
});

test('duplicate keys: last value, first position; merge keys go first', () => {
  const dup = pyYamlSafeLoad('a: 1\nb: 2\na: 3\n') as YamlTopLevelMapping;
  assert.deepEqual(dup.entries.map(([k, v]) => [k, pythonJsonDumps(v)]), [['a', '3'], ['b', '2']]);
  const merged = pyYamlSafeLoad('b: &b {p: 1, q: 1}\no: &o {p: 2}\nm:\n  r: 0\n  <<: [*b, *o]\n  q: 9\n') as YamlTopLevelMapping;
  assert.equal(pythonJsonDumps(merged.entries[2]![1]), '{"p": 1, "q": 9, "r": 0}');
});

test('unknown tags, undefined aliases and unhashable keys are errors', () => {
  for (const doc of ['v: !custom x\n', 'v: !!python/tuple [1]\n', 'v: *nope\n', '? [1]\n: x\n']) {
    assert.throws(() => pyYamlSafeLoad(doc), YamlLoadError, doc);
  }
});

test('a syntax error gives a 0-based line, like PyYAML problem_mark.line', () => {
  assert.throws(() => pyYamlSafeLoad('a: 1\nb: [1\nc: 2\n'), (e: unknown) => e instanceof YamlLoadError && typeof e.line === 'number' && e.line >= 1 && !e.message.includes('[1'));
});
