// Python's bool() as Airflow applies it (get_connection's value, a Vault conn_uri, a connection's
// fields and port): the one pyTruthy. The 0.0 case is the one Vault's former copy got wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat, pyJsonLoads, pyTruthy } from '../../../src/airflow/python-json.ts';

test('pyTruthy: None, False, "", 0, 0.0, -0.0 and empty containers are false, as bool() in Python', () => {
  for (const v of [null, undefined, false, '', 0, 0n, new PyFloat(0), new PyFloat(-0), [], new Map(), new Set(), {}]) {
    assert.equal(pyTruthy(v), false, String(v));
  }
  // As json.loads decodes them: 0.0 is a float and false.
  for (const text of ['null', 'false', '""', '0', '0.0', '-0.0', '0e5', '[]', '{}']) assert.equal(pyTruthy(pyJsonLoads(text)), false, text);
});

test('pyTruthy: any other value is true (NaN too, as bool(float("nan")) is True)', () => {
  for (const v of [true, 'x', ' ', '0', 1, 1n, -1n, new PyFloat(0.5), new PyFloat(Number.NaN), [null], new Map([['a', null]]), { a: 1 }]) {
    assert.equal(pyTruthy(v), true, String(v));
  }
  for (const text of ['true', '"0"', '1', '0.1', '[0]', '{"a": 0}']) assert.equal(pyTruthy(pyJsonLoads(text)), true, text);
});
