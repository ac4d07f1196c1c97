// Every vector in shared/conformance/airflow-vectors.json that concerns the
// Airflow data model, checked against the model. The vectors were taken from
// Airflow's own tests; where the pinned Airflow (3.3.2) differs from a vector's
// `expected`, the test says which and why (see test/differential/DIVERGENCES.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectionFromFields,
  connectionFromJson,
  connectionFromUri,
  connectionToJson,
  connectionToUri,
  extraDejson,
  ConnectionFormatError,
} from '../../../src/airflow/connection.ts';
import { FileParseError, parseConnectionsFile, parseVariablesFile } from '../../../src/airflow/local-filesystem-format.ts';
import { pyToPlain } from '../../../src/airflow/python-json.ts';
import { AIRFLOW_VECTORS } from '../../helpers/airflow-vectors.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const vectors: any = AIRFLOW_VECTORS;

interface Expected {
  conn_type: string;
  host: string;
  login: string | null;
  password: string | null;
  schema: string;
  port: number | null;
  extra: Record<string, unknown> | null;
  error?: string;
}

for (const [i, v] of (vectors.uri_parse as Array<{ uri: string; source: string; expected: Expected; expected_extra_raw?: string; extra_dejson_core_main?: Record<string, unknown> }>).entries()) {
  test(`uri_parse[${i}] ${v.source}`, () => {
    if (v.expected.error !== undefined) {
      // Airflow's message ("Invalid connection string: <uri>.") echoes the URI,
      // which holds the password; the gateway asserts the stable code instead.
      assert.throws(() => connectionFromUri('c', v.uri), (e: unknown) => e instanceof ConnectionFormatError && e.code === 'too_many_schemes' && !e.message.includes(v.uri));
      return;
    }
    const c = connectionFromUri('c', v.uri);
    const { extra, ...fields } = v.expected;
    assert.deepEqual(
      { conn_type: c.conn_type, host: c.host, login: c.login, password: c.password, schema: c.schema, port: c.port },
      fields,
    );
    if (v.extra_dejson_core_main !== undefined) {
      // Airflow 3.3.2 json.loads every query value it can (`?int_param=123` -> 123);
      // the vector's `expected.extra` is the older all-strings behaviour.
      assert.deepEqual(extraDejson(c), v.extra_dejson_core_main);
      assert.equal(c.extra, '{"int_param": 123, "bool_param": true, "float_param": 1.5, "str_param": "some_str"}');
      return;
    }
    assert.deepEqual(c.extra === null ? null : extraDejson(c), extra);
    if (v.expected_extra_raw !== undefined) assert.equal(c.extra, v.expected_extra_raw);
  });
}

for (const [i, v] of (vectors.serialize_get_uri as Array<{ fields: Record<string, unknown>; source: string; get_uri: Record<string, string>; reparsed_host: Record<string, { host: string; conn_type: string }> }>).entries()) {
  test(`serialize_get_uri[${i}] ${v.source}`, () => {
    const c = connectionFromFields('c', v.fields);
    // 3.3.2 includes PR #51953: a host protocol equal to conn_type is quoted, not repeated.
    const uri = connectionToUri(c);
    assert.equal(uri, v.get_uri['task_sdk_3.1_and_core_after_PR51953']);
    const reparsed = connectionFromUri('c', uri);
    assert.deepEqual({ host: reparsed.host, conn_type: reparsed.conn_type }, v.reparsed_host['sdk']);
  });
}

for (const [i, v] of (vectors.round_trip_from_uri_params as Array<{ uri: string; source: string; get_uri: Record<string, string> }>).entries()) {
  test(`round_trip_from_uri_params[${i}] ${v.source}`, () => {
    // 3.3.2 get_uri only flattens extras whose values are all strings (no PR #59339),
    // so it matches the `legacy` column.
    assert.equal(connectionToUri(connectionFromUri('c', v.uri)), v.get_uri['legacy']);
  });
}

for (const [i, v] of (vectors.json_format as Array<{ json?: string; fields?: Record<string, unknown>; expected?: Record<string, unknown>; as_json?: string; source: string }>).entries()) {
  test(`json_format[${i}] ${v.source}`, () => {
    if (v.json !== undefined) {
      const c = connectionFromJson('c', v.json);
      for (const [k, want] of Object.entries(v.expected!)) assert.deepEqual((c as unknown as Record<string, unknown>)[k], want, k);
    } else {
      assert.equal(connectionToJson(connectionFromFields('c', v.fields!)), v.as_json);
    }
  });
}

for (const [i, v] of (vectors.local_filesystem as Array<Record<string, any>>).entries()) {
  test(`local_filesystem[${i}] ${v.source}`, () => {
    if (v.error !== undefined) {
      const parse = v.source.includes('connection') || v.content.includes('CONN_ID') ? parseConnectionsFile : parseVariablesFile;
      assert.throws(() => parse(v.file, v.content), (e: unknown) => e instanceof FileParseError && e.message.includes(v.error));
    } else if (v.variables !== undefined) {
      const vars = parseVariablesFile(v.file, v.content);
      assert.deepEqual(Object.fromEntries([...vars].map(([k, val]) => [k, pyToPlain(val)])), v.variables);
    } else if (v.connections_get_uri !== undefined) {
      const conns = parseConnectionsFile(v.file, v.content);
      assert.deepEqual(Object.fromEntries([...conns].map(([k, c]) => [k, connectionToUri(c)])), v.connections_get_uri);
    } else {
      const conns = parseConnectionsFile(v.file, v.content);
      for (const [id, attrs] of Object.entries(v.connection_attrs as Record<string, Record<string, unknown>>)) {
        const c = conns.get(id)!;
        for (const [k, want] of Object.entries(attrs)) {
          const got = k === 'extra_dejson' ? extraDejson(c) : (c as unknown as Record<string, unknown>)[k];
          assert.deepEqual(got, want, `${id}.${k}`);
        }
      }
    }
  });
}

test('the vectors file has the sections this suite covers', () => {
  for (const k of ['uri_parse', 'serialize_get_uri', 'round_trip_from_uri_params', 'json_format', 'local_filesystem']) {
    assert.ok(Array.isArray(vectors[k]) && vectors[k].length > 0, k);
  }
});
