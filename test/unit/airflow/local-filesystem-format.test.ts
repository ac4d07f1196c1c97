// The rules of spec §5 (airflow-core/src/airflow/secrets/local_filesystem.py, 3.3.2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionFormatError, connectionToUri } from '../../../src/airflow/connection.ts';
import { FileParseError, parseConfigFile, parseConnectionsFile, parseVariablesFile } from '../../../src/airflow/local-filesystem-format.ts';
import { PyDate, PyFloat, pythonJsonDumps } from '../../../src/airflow/python-json.ts';

const fails = (code: string, line?: number) => (e: unknown): boolean =>
  e instanceof FileParseError && e.code === code && (line === undefined || e.line === line);

test('file type comes from suffix.lower(); anything else is unsupported', () => {
  assert.deepEqual([...parseVariablesFile('dir.d/A.ENV', 'K=v')], [['K', 'v']]);
  assert.deepEqual([...parseVariablesFile('a.YmL', 'k: v')], [['k', 'v']]);
  for (const name of ['a.txt', '.env', 'a.json.bak', 'env', 'a.']) {
    assert.throws(() => parseVariablesFile(name, ''), (e: unknown) => fails('unsupported_file_type')(e) && (e as Error).message.endsWith('.env .json .yaml .yml'), name);
  }
});

test('.env: comments and empty lines skipped, "#" inside a value kept, no trimming or unquoting', () => {
  const vars = parseVariablesFile('a.env', "A= x # y \n  # comment\n\nB='q'\r\nC=a=b");
  assert.deepEqual([...vars], [['A', ' x # y '], ['B', "'q'"], ['C', 'a=b']]);
});

test('.env: every bad line is reported with its line number', () => {
  assert.throws(
    () => parseVariablesFile('a.env', 'OK=1\nNOEQUALS\n=v\nK=\n   '),
    (e: unknown) => {
      const m = (e as Error).message;
      return fails('file_parse_error', 2)(e) &&
        m.startsWith('Failed to load the secret file.\nFilename: a.env\n\n==================== Parse error   1 ====================\nInvalid line format. The line should contain at least one equal sign ("=").\nLine number:  2\n') &&
        m.includes('Invalid line format. Key is empty.\nLine number:  3') &&
        m.includes('Invalid line format. Value is empty.\nLine number:  4') &&
        m.includes('Parse error   4');
    },
  );
});

test('.env: splitlines() line breaks (\\r, \\u2028, \\x1c) count as lines', () => {
  assert.deepEqual([...parseVariablesFile('a.env', 'A=1\rB=2\u2028C=3\x1cD=4')].map(([k]) => k), ['A', 'B', 'C', 'D']);
});

test('.env variables: a repeated key is VariableNotUnique with a Python list repr', () => {
  assert.throws(
    () => parseVariablesFile('a.env', "A=1\nA=2\nB'=1\nB'=2"),
    (e: unknown) => fails('variable_not_unique')(e) && (e as Error).message === `The "a.env" file contains multiple values for keys: ['A', "B'"]`,
  );
});

test('.env connections are always URIs; a repeated key is ConnectionNotUnique', () => {
  const conns = parseConnectionsFile('a.env', 'DB=postgresql://u:p@H:5432/db\nJ={"host": "h"}');
  assert.equal(connectionToUri(conns.get('DB')!), 'postgres://u:p@h:5432/db');
  assert.equal(conns.get('J')!.conn_type, ''); // JSON text parsed as a URI
  assert.throws(() => parseConnectionsFile('a.env', 'A=x://h\nA=y://h'), (e: unknown) => fails('connection_not_unique')(e) && (e as Error).message === 'Found multiple values for A in a.env.');
});

test('JSON/YAML: empty file, not an object, syntax errors with line numbers', () => {
  assert.throws(() => parseVariablesFile('a.json', ''), (e: unknown) => fails('file_parse_error', 1)(e) && (e as Error).message.includes('The file is empty.'));
  assert.throws(() => parseVariablesFile('a.yaml', ''), (e: unknown) => fails('file_parse_error', 1)(e));
  assert.throws(() => parseVariablesFile('a.json', '[1]'), (e: unknown) => (e as Error).message.includes('The file should contain the object.'));
  assert.throws(() => parseVariablesFile('a.yaml', '- a'), (e: unknown) => (e as Error).message.includes('The file should contain the object.'));
  assert.throws(() => parseVariablesFile('a.yaml', '  \n'), (e: unknown) => (e as Error).message.includes('The file should contain the object.'));
  assert.throws(() => parseVariablesFile('a.json', '{\n"a": 1,\n}'), (e: unknown) => fails('file_parse_error', 3)(e) && (e as Error).message.includes('Expecting property name enclosed in double quotes'));
});

test('a YAML syntax error reports a line but never the document text', () => {
  assert.throws(
    () => parseVariablesFile('a.yaml', 'ok: 1\nsecret: [hunter2\n'),
    (e: unknown) => e instanceof FileParseError && e.code === 'file_parse_error' && !e.message.includes('hunter2'),
  );
});

test('variables: non-string values are returned as parsed (Python types)', () => {
  const vars = parseVariablesFile('a.yaml', 'i: 1\nf: 1.0\nb: yes\nn: ~\ns: None\nd: 2001-12-14\nl: [1, x]\nm: {k: v}\n');
  assert.equal(vars.get('i'), 1n);
  assert.ok(vars.get('f') instanceof PyFloat);
  assert.equal(vars.get('b'), true);
  assert.equal(vars.get('n'), null);
  assert.equal(vars.get('s'), 'None');
  assert.ok(vars.get('d') instanceof PyDate);
  assert.equal(pythonJsonDumps(vars.get('l')), '[1, "x"]');
  assert.equal(pythonJsonDumps(vars.get('m')), '{"k": "v"}');
});

test('variables: a non-string YAML key is not returned (Airflow looks keys up by str)', () => {
  assert.deepEqual([...parseVariablesFile('a.yaml', '123: x\n"123": y\n')], [['123', 'y']]);
});

test('configs: a list value must have one element, which is unwrapped', () => {
  assert.deepEqual([...parseConfigFile('a.json', '{"a": ["x"], "b": 1}')].map(([k, v]) => [k, String(v)]), [['a', 'x'], ['b', '1']]);
  assert.throws(() => parseConfigFile('a.json', '{"a": ["x", "y"], "b": []}'), (e: unknown) => fails('variable_not_unique')(e) && (e as Error).message.endsWith("keys: ['a', 'b']"));
  // Variables keep lists as they are.
  assert.equal(pythonJsonDumps(parseVariablesFile('a.json', '{"a": ["x", "y"]}').get('a')), '["x", "y"]');
});

test('connections: list unwrap, empty list gives no entry, other types are rejected', () => {
  const conns = parseConnectionsFile('a.json', '{"A": ["x://h"], "B": [], "C": "y://h"}');
  assert.deepEqual([...conns.keys()], ['A', 'C']);
  assert.throws(() => parseConnectionsFile('a.json', '{"A": 5}'), (e: unknown) => fails('unexpected_value_type')(e) && (e as Error).message.startsWith("Unexpected value type: <class 'int'>."));
  assert.throws(() => parseConnectionsFile('a.json', '{"A": [[1]]}'), (e: unknown) => (e as Error).message.startsWith("Unexpected value type: <class 'list'>."));
});

test('connection dicts: illegal keys, extra vs extra_dejson, conn_id mismatch', () => {
  assert.throws(() => parseConnectionsFile('a.json', '{"A": {"host": "h", "bogus": 1}}'), (e: unknown) => fails('illegal_keys')(e) && (e as Error).message.startsWith('The object have illegal keys: bogus.'));
  assert.throws(() => parseConnectionsFile('a.json', '{"A": {"extra": "{}", "extra_dejson": {}}}'), fails('extra_and_extra_dejson'));
  assert.throws(() => parseConnectionsFile('a.json', '{"A": {"conn_id": "B"}}'), (e: unknown) => fails('conn_id_mismatch')(e) && (e as Error).message.startsWith('Mismatch conn_id.'));
  assert.equal(parseConnectionsFile('a.json', '{"A": {"conn_id": "A", "host": "h"}}').get('A')!.host, 'h');
});

test('connection dicts: extra_dejson is json.dumps-ed, uri works alone, fields are not normalized', () => {
  const conns = parseConnectionsFile('a.yaml', 'A:\n  conn_type: postgresql\n  port: 5432\n  extra_dejson: {b: 1.0, a: [yes]}\nB:\n  uri: mysql://H\n  description: d\n');
  assert.equal(conns.get('A')!.extra, '{"b": 1.0, "a": [true]}');
  assert.equal(conns.get('A')!.conn_type, 'postgresql');
  assert.equal(conns.get('A')!.port, 5432);
  assert.deepEqual([conns.get('B')!.host, conns.get('B')!.description], ['h', 'd']);
  assert.throws(() => parseConnectionsFile('a.json', '{"A": {"uri": "x://h", "host": "h"}}'), (e: unknown) => e instanceof ConnectionFormatError && e.code === 'uri_with_fields');
});

test('connection dicts: a digit-string port is cast (Airflow keeps the str; the worker casts it)', () => {
  assert.equal(parseConnectionsFile('a.json', '{"A": {"port": "1234"}}').get('A')!.port, 1234);
  assert.throws(() => parseConnectionsFile('a.json', '{"A": {"port": "12a"}}'), (e: unknown) => e instanceof ConnectionFormatError && e.code === 'invalid_port');
});
