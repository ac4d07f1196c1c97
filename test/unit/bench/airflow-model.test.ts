// The Airflow cost model the bench compares the gateway with (bench/lib/airflow-model.ts):
// each rule of spec §2–§3 on a small hand-made trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { airflowSecretCacheInWorkers, airflowWithoutCache, type Placement, type TraceLookup } from '../../../bench/lib/airflow-model.ts';

// conn_a in the first backend, conn_b and var_x in the second, var_missing nowhere.
const placement: Placement = (kind, id) => (id === 'conn_a' ? 0 : id === 'conn_b' || id === 'var_x' ? 1 : null);
const at = (t: number, worker: number, kind: 'connection' | 'variable', id: string): TraceLookup => ({ t, worker, kind, id });

test('no cache: one call per backend on the path, every backend for a key that exists nowhere', () => {
  const trace = [at(0, 0, 'connection', 'conn_a'), at(0, 0, 'connection', 'conn_b'), at(0, 0, 'variable', 'var_missing'), at(1, 0, 'connection', 'conn_a')];
  assert.deepEqual(airflowWithoutCache(trace, 2, placement).calls, [4, 2]);
});

test('SecretCache in workers: per worker, expires after ttl (not at it), missing keys never cached', () => {
  const trace = [
    at(0, 0, 'connection', 'conn_a'),
    at(10, 0, 'connection', 'conn_a'), // cached
    at(10, 1, 'connection', 'conn_a'), // another worker: its own cache
    at(100, 0, 'connection', 'conn_a'), // age 100 = ttl: still fresh (now - saved > ttl expires)
    at(101, 0, 'connection', 'conn_a'), // expired: fetched again
    at(0, 0, 'variable', 'var_missing'),
    at(1, 0, 'variable', 'var_missing'), // not cached: asked again
  ];
  const cost = airflowSecretCacheInWorkers(trace, 2, placement, { ttlSeconds: 100, rotations: [] });
  assert.deepEqual(cost.calls, [5, 2]);
  assert.equal(cost.staleServed, 0);
});

test('SecretCache in workers: a rotation is not seen until the entry expires', () => {
  const trace = [at(0, 0, 'variable', 'var_x'), at(50, 0, 'variable', 'var_x'), at(60, 0, 'variable', 'var_x'), at(200, 0, 'variable', 'var_x')];
  const cost = airflowSecretCacheInWorkers(trace, 2, placement, { ttlSeconds: 100, rotations: [{ t: 40, kind: 'variable', id: 'var_x' }] });
  assert.equal(cost.staleServed, 2);
  assert.deepEqual(cost.calls, [2, 2]);
});
