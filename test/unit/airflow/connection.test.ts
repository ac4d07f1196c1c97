// The rules of spec §6 (airflow-core/src/airflow/models/connection.py, 3.3.2),
// one test each. Expected values were checked against the real Airflow.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionFormatError,
  connectionFromFields,
  connectionFromJson,
  connectionFromUri,
  connectionToApi,
  connectionToApiJson,
  connectionToJson,
  connectionToUri,
  deserializeConnection,
  extraDejson,
  isValidConnId,
} from '../../../src/airflow/connection.ts';

const fails = (code: string) => (e: unknown): boolean => e instanceof ConnectionFormatError && e.code === code;

test('more than two "://" is rejected, and the message does not echo the URI', () => {
  const uri = 'a://user:s3cret@b://c://d';
  assert.throws(() => connectionFromUri('c', uri), (e: unknown) => fails('too_many_schemes')(e) && !(e as Error).message.includes('s3cret'));
  // The count includes a raw '://' in the query.
  assert.throws(() => connectionFromUri('c', 'a://b://h?u=https://x'), fails('too_many_schemes'));
});

test('host with protocol: type://protocol://user:pass@host:port', () => {
  const c = connectionFromUri('c', 'spark://k8s://user:pw@1.2.3.4:443/s');
  assert.deepEqual([c.host, c.login, c.password, c.port, c.schema], ['k8s://1.2.3.4', 'user', 'pw', 443, 's']);
  assert.throws(() => connectionFromUri('c', 'type://user:pass@protocol://host'), fails('hwp_auth_before_protocol'));
  assert.throws(() => connectionFromUri('c', 'type://host:1@protocol://host'), fails('hwp_auth_before_protocol'));
  // An empty host keeps no protocol.
  assert.equal(connectionFromUri('c', 'type://k8s://').host, '');
});

test('scheme: lower-cased, "_" makes it invalid, postgresql -> postgres, "-" -> "_"', () => {
  assert.equal(connectionFromUri('c', 'MySQL://h').conn_type, 'mysql');
  assert.equal(connectionFromUri('c', 'postgresql://h').conn_type, 'postgres');
  assert.equal(connectionFromUri('c', 'google-cloud-platform://h').conn_type, 'google_cloud_platform');
  const bad = connectionFromUri('c', 'my_type://h');
  assert.equal(bad.conn_type, '');
  assert.equal(bad.host, ''); // the whole URI is then a path
  assert.equal(bad.schema, 'y_type//h'); // rest = 'my_type//h', a path
});

test('host: lower-cased by hostname, but the netloc fallback for "/" preserves case', () => {
  assert.equal(connectionFromUri('c', 'x://User@HoSt.COM').host, 'host.com');
  assert.equal(connectionFromUri('c', 'x://u@%2FTmP%2FSock:5/db').host, '/TmP/Sock');
  assert.equal(connectionFromUri('c', 'x://[FE80::1]:5').host, 'fe80::1');
});

test('schema is the path without its first "/", unquoted', () => {
  assert.equal(connectionFromUri('c', 'x://h/a%2Fb/c').schema, 'a/b/c');
  assert.equal(connectionFromUri('c', 'x://h').schema, '');
  assert.equal(connectionFromUri('c', 'x://h/').schema, '');
});

test('login/password: unquoted, "+" kept, "" password stored as null by core', () => {
  const c = connectionFromUri('c', 'x://a+b%40c:p+w%2F@h');
  assert.deepEqual([c.login, c.password], ['a+b@c', 'p+w/']);
  assert.equal(connectionFromUri('c', 'x://user:@h').password, null);
  assert.equal(connectionFromUri('c', 'x://h').login, null);
  assert.equal(connectionFromUri('c', 'x://:pw@h').login, '');
  // '#' starts the fragment.
  assert.equal(connectionFromUri('c', 'x://u#p@h').host, 'u');
});

test('ports: non-digit or out of range is an error, empty is null', () => {
  assert.throws(() => connectionFromUri('c', 'x://h:abc'), fails('invalid_port'));
  assert.throws(() => connectionFromUri('c', 'x://h:65536'), fails('invalid_port'));
  assert.equal(connectionFromUri('c', 'x://h:').port, null);
  assert.throws(() => connectionFromUri('c', 'x://[1.2.3.4]'), fails('invalid_ipv6'));
});

test('query: last duplicate wins, bare key is "", values are JSON-decoded when they parse', () => {
  const c = connectionFromUri('c', 'x://h?a=1&flag&a=2&s=text&j=%7B%22k%22%3A+%5B1%5D%7D&f=1.0&n=null&p=a+b');
  assert.equal(c.extra, '{"a": 2, "flag": "", "s": "text", "j": {"k": [1]}, "f": 1.0, "n": null, "p": "a b"}');
});

test('__extra__ wins over other parameters and must be a JSON object', () => {
  assert.equal(connectionFromUri('c', 'x://h?a=1&__extra__=%7B%22b%22%3A+2%7D').extra, '{"b": 2}');
  assert.throws(() => connectionFromUri('c', 'x://h?__extra__=%5B1%5D'), fails('invalid_extra'));
  assert.throws(() => connectionFromUri('c', 'x://h?__extra__=nope'), fails('invalid_extra'));
  assert.equal(connectionFromUri('c', 'x://h?__extra__=').extra, '');
});

test('empty URI: every field null (Connection(uri="") takes the field path)', () => {
  assert.deepEqual(connectionFromUri('c', ''), { conn_id: 'c', conn_type: null, description: null, host: null, login: null, password: null, schema: null, port: null, extra: null });
});

test('get_uri: prefix, quoting, "@:port", port 0 dropped', () => {
  const base = { conn_type: 'my_type', host: 'h/é', login: "u'(", password: 'p w', schema: 's/x', port: 5 };
  assert.equal(connectionToUri(connectionFromFields('c', base)), "my-type://u%27%28:p%20w@h%2F%C3%A9:5/s%2Fx");
  assert.equal(connectionToUri(connectionFromFields('c', { conn_type: 'x', port: 1234 })), 'x://@:1234');
  assert.equal(connectionToUri(connectionFromFields('c', { conn_type: 'x', host: 'h', port: 0 })), 'x://h');
  assert.equal(connectionToUri(connectionFromFields('c', { host: 'h' })), '//h');
  // A login of "" without a password disappears.
  assert.equal(connectionToUri(connectionFromFields('c', { conn_type: 'x', login: '', host: 'h' })), 'x://h');
});

test('get_uri: protocol in host, equal to conn_type (PR #51953) or not', () => {
  assert.equal(connectionToUri(connectionFromFields('c', { conn_type: 'http', host: 'http://h' })), 'http://http%3A%2F%2Fh');
  assert.equal(connectionToUri(connectionFromFields('c', { conn_type: 'spark', host: 'k8s://h', port: 1 })), 'spark://k8s://h:1');
});

test('get_uri: extra flattened only when every value is a string, else __extra__', () => {
  const flat = connectionFromFields('c', { conn_type: 'x', host: 'h', extra: '{"a": "b c", "t": "~*"}' });
  assert.equal(connectionToUri(flat), 'x://h/?a=b+c&t=~%2A');
  const nested = connectionFromFields('c', { conn_type: 'x', host: 'h', schema: 's', extra: '{"a": 1}' });
  assert.equal(connectionToUri(nested), 'x://h/s?__extra__=%7B%22a%22%3A+1%7D');
  const empty = connectionFromFields('c', { conn_type: 'x', host: 'h', extra: '{}' });
  assert.equal(connectionToUri(empty), 'x://h/?__extra__=%7B%7D');
});

test('from_json: normalization, port cast, extra handling, key checks', () => {
  const c = connectionFromJson('c', '{"conn_type": "postgresql", "port": "5432", "extra": {"a": 1.0}}');
  assert.deepEqual([c.conn_type, c.port, c.extra], ['postgres', 5432, '{"a": 1.0}']);
  assert.equal(connectionFromJson('c', '{"port": 5.9}').port, 5);
  assert.equal(connectionFromJson('c', '{"port": " +7 "}').port, 7);
  assert.equal(connectionFromJson('c', '{"port": "1_0"}').port, 10);
  assert.equal(connectionFromJson('c', '{"port": 0}').port, null);
  assert.equal(connectionFromJson('c', '{"extra": {}}').extra, null);
  assert.equal(connectionFromJson('c', '{"extra": ""}').extra, null);
  assert.equal(connectionFromJson('c', '{"conn_type": "Abc-Def"}').conn_type, 'Abc_Def');
  assert.equal(connectionFromJson('c', '{"password": ""}').password, null);
  assert.throws(() => connectionFromJson('c', '{"port": "x"}'), fails('invalid_port'));
  assert.throws(() => connectionFromJson('c', '{"port": NaN}'), fails('invalid_port'));
  assert.throws(() => connectionFromJson('c', '{"bogus": 1}'), fails('unknown_keys'));
  assert.throws(() => connectionFromJson('c', '{"conn_id": "c"}'), fails('conn_id_key'));
  assert.throws(() => connectionFromJson('c', '{"extra": [1]}'), fails('invalid_extra'));
  assert.throws(() => connectionFromJson('c', '{"host": 5}'), fails('invalid_field_type'));
  assert.throws(() => connectionFromJson('c', '[1]'), fails('invalid_json'));
  assert.throws(() => connectionFromJson('c', '{"password": "s3cret"'), (e: unknown) => fails('invalid_json')(e) && !(e as Error).message.includes('s3cret'));
  assert.throws(() => connectionFromJson('c', '{"password": "\\ud800"}'), fails('invalid_unicode'));
});

test('from_json with uri: alone (plus description) it is parsed, mixed with fields it is an error', () => {
  const c = connectionFromJson('c', '{"uri": "x://h:1", "description": "d", "port": 0}');
  assert.deepEqual([c.conn_type, c.host, c.port, c.description], ['x', 'h', 1, 'd']);
  assert.throws(() => connectionFromJson('c', '{"uri": "x://h", "host": "h"}'), fails('uri_with_fields'));
});

test('fields: conn_type kept as given, digit-string port cast, bad port rejected, falsy extra is null', () => {
  const c = connectionFromFields('c', { conn_type: 'postgresql', port: '5432', extra: {} });
  assert.deepEqual([c.conn_type, c.port, c.extra], ['postgresql', 5432, null]);
  assert.equal(connectionFromFields('c', { port: '' }).port, null);
  assert.throws(() => connectionFromFields('c', { port: '54x' }), fails('invalid_port'));
  assert.throws(() => connectionFromFields('c', { port: 1.5 }), fails('invalid_port'));
  assert.equal(connectionFromFields('c', { extra: { b: [1] } }).extra, '{"b": [1]}');
  assert.throws(() => connectionFromFields('c', { nope: 1 }), fails('unknown_keys'));
});

test('deserialize: strip, "{" means JSON, whitespace-only is an error', () => {
  assert.equal(deserializeConnection('c', '\u3000 {"host": "h"}\n').host, 'h');
  assert.equal(deserializeConnection('c', '\t x://H \n').host, 'h');
  assert.throws(() => deserializeConnection('c', ' \u00a0\n'), fails('empty_value'));
});

test('as_json: key order, None pruned, "" kept, extra only when non-empty', () => {
  assert.equal(connectionToJson(connectionFromUri('c', 'aws://')), '{"conn_type": "aws", "host": "", "schema": ""}');
  const c = connectionFromFields('c', { conn_type: 't', description: 'd', host: 'h', login: 'l', password: 'p', schema: 's', port: 1, extra: '{"z": 1, "a": 2.5}' });
  assert.equal(connectionToJson(c), '{"conn_type": "t", "description": "d", "host": "h", "login": "l", "password": "p", "schema": "s", "port": 1, "extra": {"z": 1, "a": 2.5}}');
});

test('extra_dejson: {} when empty or invalid', () => {
  assert.deepEqual(extraDejson({ ...connectionFromUri('c', 'x://h'), extra: 'not json' }), {});
  assert.deepEqual(extraDejson(connectionFromUri('c', 'x://h')), {});
  assert.deepEqual(extraDejson(connectionFromUri('c', 'x://h?a=1')), { a: 1 });
});

test('API view: extra parsed or null; exact JSON keeps float spelling', () => {
  const c = connectionFromUri('c', 'x://h?f=1.0');
  assert.deepEqual(connectionToApi(c).extra, { f: 1 });
  assert.equal(connectionToApi(connectionFromUri('c', 'x://h')).extra, null);
  assert.equal(connectionToApiJson(c), '{"conn_id": "c", "conn_type": "x", "description": null, "host": "h", "login": null, "password": null, "schema": "", "port": null, "extra": {"f": 1.0}}');
});

test('conn_id validity: Python \\w, symbols #!()-.:/\\, length <= 250 code points', () => {
  for (const ok of ['aws_default', 'a#b!(c)-d.e:f/g\\h', 'é_日本', '1', 'x\n', '😀'.replace('😀', 'ǅ')]) assert.ok(isValidConnId(ok), ok);
  for (const bad of ['', 'a b', 'a<b', 'a\n\n', 'a$', '😀', 'a\u0301']) assert.ok(!isValidConnId(bad), bad);
  assert.ok(isValidConnId('é'.repeat(250)));
  assert.ok(!isValidConnId('a'.repeat(251)));
});
