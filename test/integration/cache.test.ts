// The cache over HTTP, against a real backend server process (the GCP Secret
// Manager emulator, through the gateway's own gcp_secret_manager backend): one
// lookup for 1,000 concurrent cold requests, counted in the emulator's own call
// log; stale-if-error while the emulator is stopped, and recovery when it is
// back; freshness headers and Cache-Control; the invalidation route; and every
// metric of the issue in a real /metrics scrape.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { countAuthFailure } from '../../src/metrics.ts';
import { READ_ALL, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gcpBackendConfig, GCP_PROJECT } from '../helpers/backend-fixtures.ts';

const PROJECT = `projects/${GCP_PROJECT}`;
const variableSecretId = (key: string) => `airflow-variables-${key}`;
import { parseExposition, sum, type Exposition } from '../helpers/prometheus.ts';
import { startGcpSecretManager, type GcpSecretManagerServer } from '../helpers/servers/gcp-secret-manager.ts';

const COLD_VALUE = 'cold-secret-value-7f3a';
const WARM_VALUE = 'warm-secret-value-91c2';

describe('cache over a real backend process', () => {
  let gcp: GcpSecretManagerServer;
  let admin: SecretManagerServiceClient;
  let gw: TestGateway;
  let base: string;
  // A second gateway with a 1 s TTL and no stale-while-revalidate window, for stale-if-error.
  let shortTtl: TestGateway;
  let shortBase: string;

  const put = async (key: string, value: string) => {
    await admin.createSecret({ parent: PROJECT, secretId: variableSecretId(key), secret: { replication: { automatic: {} } } });
    await admin.addSecretVersion({ parent: `${PROJECT}/secrets/${variableSecretId(key)}`, payload: { data: Buffer.from(value) } });
  };
  const calls = async (method: string, key: string) => (await gcp.calls()).filter((c) => c.method === method && c.resource.includes(variableSecretId(key))).length;
  // Each gateway has its own test signing key.
  const bearer = (scopes = READ_ALL, from = base) => ({ authorization: `Bearer ${(from === shortBase ? shortTtl : gw).token(scopes)}` });
  const get = (path: string, headers: Record<string, string> = {}, from = base) => fetch(`${from}${path}`, { headers: { ...bearer(READ_ALL, from), ...headers } });
  const scrape = async (from = base): Promise<Exposition> => {
    const res = await get('/metrics', {}, from);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return parseExposition(await res.text());
  };

  before(async () => {
    gcp = await startGcpSecretManager();
    admin = gcp.client();
    await put('cold', COLD_VALUE);
    await put('warm', WARM_VALUE);
    await put('plain', 'plain-value');
    // The project's own gcp_secret_manager backend, failing fast (no retries) so an outage shows at once,
    // with a short circuit-breaker reset so recovery after the restart is quick.
    const backends = [gcpBackendConfig(gcp.port, { name: 'gcp', kinds: ['variables'], max_retries: 0, timeout_seconds: 2, circuit_breaker_reset_seconds: 0.5 })];
    gw = await startTestGateway({ config: { cache: { max_entries: 3 }, backends } });
    base = await gw.app.listen({ host: '127.0.0.1', port: 0 });
    shortTtl = await startTestGateway({
      config: { cache: { ttl_seconds: 1, stale_while_revalidate_seconds: 0, max_stale_seconds: 60, refresh_min_interval_seconds: 0 }, backends },
    });
    shortBase = await shortTtl.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await gw?.close();
    await shortTtl?.close();
    assert.deepEqual(shortTtl.contractProblems, []);
    await admin?.close();
    await gcp?.dispose();
    assert.deepEqual(gw.contractProblems, [], 'every response matches openapi.yaml');
    const logs = gw.logs.join('');
    for (const value of [COLD_VALUE, WARM_VALUE]) assert.ok(!logs.includes(value), 'no secret value in the logs');
  });

  it('1,000 concurrent requests for one cold key make exactly one lookup at the backend', async () => {
    await gcp.clearCalls();
    // A slow backend (1 s per lookup): most requests arrive while the one lookup is in flight.
    await gcp.addFault({ method: 'AccessSecretVersion', resource: `${PROJECT}/secrets/${variableSecretId('cold')}`, delayMs: 1000 });
    const t0 = performance.now();
    const responses = await Promise.all(Array.from({ length: 1000 }, () => get('/v1/variables/cold')));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ value: string }>));
    const ms = performance.now() - t0;
    await gcp.clearFaults();
    assert.ok(responses.every((r) => r.status === 200));
    assert.ok(bodies.every((b) => b.value === COLD_VALUE));
    assert.equal(await calls('AccessSecretVersion', 'cold'), 1, 'the emulator saw one AccessSecretVersion');
    assert.equal(await calls('GetSecretVersion', 'cold'), 1, 'and one GetSecretVersion before it, for the version identity (its create_time)');
    const states = responses.map((r) => r.headers.get('x-cache'));
    const waited = states.filter((s) => s === 'miss').length;
    assert.equal(waited + states.filter((s) => s === 'hit').length, 1000, 'each answer was the lookup or the cached result');
    const metrics = await scrape();
    assert.equal(sum(metrics, 'secrets_gateway_coalesced_waits_total'), waited - 1, 'every miss but the first joined the lookup in flight');
    assert.equal(sum(metrics, 'secrets_gateway_backend_requests_total', { backend: 'gcp', operation: 'get_variable' }), 1);
    console.log(`1000 concurrent cold requests: ${ms.toFixed(0)} ms; ${waited} waited for the one backend lookup, ${1000 - waited} arrived after it and hit`);
  });

  it('serves the last good value with X-Cache: stale while the backend process is stopped, and recovers', async () => {
    const first = await get('/v1/variables/warm', {}, shortBase);
    assert.equal(first.headers.get('x-cache'), 'miss');
    const version = first.headers.get('x-secret-version');
    await gcp.stop();
    await sleep(1100); // past the 1 s TTL, with no stale-while-revalidate window
    const before = await scrape(shortBase);
    const stale = await get('/v1/variables/warm', {}, shortBase);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('x-cache'), 'stale');
    assert.ok(Number(stale.headers.get('age')) >= 1);
    assert.equal(stale.headers.get('x-secret-version'), version);
    assert.deepEqual(await stale.json(), { key: 'warm', value: WARM_VALUE });
    const during = await scrape(shortBase);
    const moved = (name: string, labels: Record<string, string>) => sum(during, name, labels) - sum(before, name, labels);
    assert.equal(moved('secrets_gateway_stale_served_total', { kind: 'variable', reason: 'backend_error' }), 1);
    assert.equal(moved('secrets_gateway_backend_requests_total', { backend: 'gcp', operation: 'get_version', outcome: 'error' }), 1);
    assert.equal(moved('secrets_gateway_cache_hits_total', { kind: 'variable', state: 'stale' }), 1);
    // A key never cached has nothing to fall back on: 503.
    const cold = await get('/v1/variables/never-cached', {}, shortBase);
    assert.equal(cold.status, 503);
    assert.equal(((await cold.json()) as { code: string }).code, 'backend_unavailable');

    await gcp.restart();
    await gcp.clearCalls();
    let state = 'stale';
    const deadline = Date.now() + 10_000;
    let res: Response | undefined;
    while (state === 'stale' && Date.now() < deadline) {
      res = await get('/v1/variables/warm', {}, shortBase);
      state = res.headers.get('x-cache') ?? '';
      if (state === 'stale') await sleep(100);
    }
    assert.equal(state, 'revalidated', 'the version is unchanged: confirmed without fetching the value');
    assert.equal(res!.headers.get('age'), '0');
    assert.ok((await calls('GetSecretVersion', 'warm')) >= 1);
    assert.equal(await calls('AccessSecretVersion', 'warm'), 0);
  });

  it('shows freshness in headers and follows the request Cache-Control', async () => {
    await get('/v1/variables/plain');
    const hit = await get('/v1/variables/plain');
    assert.equal(hit.headers.get('x-cache'), 'hit');
    assert.match(hit.headers.get('age') ?? '', /^\d+$/);
    const fingerprint = hit.headers.get('x-secret-version') ?? '';
    assert.match(fingerprint, /^[A-Za-z0-9_-]{22}$/);
    assert.ok(!fingerprint.includes('plain-value'));
    assert.equal(hit.headers.get('cache-control'), 'no-store', 'downstream caches still store nothing');

    await gcp.clearCalls();
    const soon = await get('/v1/variables/plain', { 'cache-control': 'no-cache' });
    assert.equal(soon.headers.get('x-cache'), 'hit', 'confirmed less than refresh_min_interval (1 s) ago: no new lookup');
    await sleep(1100);
    const forced = await get('/v1/variables/plain', { 'cache-control': 'no-cache' });
    assert.equal(forced.headers.get('x-cache'), 'revalidated');
    assert.equal(await calls('GetSecretVersion', 'plain'), 1);
    const recent = await get('/v1/variables/plain', { 'cache-control': 'max-age=30' });
    assert.equal(recent.headers.get('x-cache'), 'hit');

    const bad = await get('/v1/variables/plain', { 'cache-control': 'max-age=soon' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'invalid_request');

    const missing = await get('/v1/variables/absent');
    assert.deepEqual([missing.status, missing.headers.get('x-cache')], [404, 'miss']);
    const missingAgain = await get('/v1/variables/absent');
    assert.deepEqual([missingAgain.status, missingAgain.headers.get('x-cache')], [404, 'hit'], 'not-found answers are cached too');
  });

  it('invalidates through POST /v1/cache/invalidate, and refuses malformed requests', async () => {
    const post = (body: unknown) => fetch(`${base}/v1/cache/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(['cache:invalidate:*']) }, body: JSON.stringify(body) });
    await get('/v1/variables/plain');
    const res = await post({ kind: 'variable', id: 'plain' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { invalidated: 1, fanout: 'not_configured' });
    assert.equal((await get('/v1/variables/plain')).headers.get('x-cache'), 'miss');
    assert.deepEqual(await (await post({ glob: 'pl*', kind: 'variable' })).json(), { invalidated: 1, fanout: 'not_configured' });
    assert.equal((await (await post({ all: true })).json() as { invalidated: number }).invalidated >= 0, true);
    for (const body of [{}, { id: 'x' }, { all: false }, { all: true, id: 'x' }, { all: true, kind: 'variable' }, { kind: 'variable', id: 'a', glob: 'b' }, { kind: 'secret', id: 'a' }, { glob: 'a\u0001' }, { kind: 'variable', id: 'x', extra: 1 }]) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(((await r.json()) as { code: string }).code, 'invalid_request');
    }
    // The body schema (openapi.yaml's CacheInvalidation) holds the conn_id rule: a bad id is a body that does not match the API.
    const badId = await post({ kind: 'connection', id: 'bad id with spaces' });
    assert.deepEqual([badId.status, ((await badId.json()) as { code: string }).code], [400, 'invalid_request']);
    const wrongMethod = await fetch(`${base}/v1/cache/invalidate`);
    assert.equal(wrongMethod.status, 405);
  });

  it('exposes every metric of the issue in a real /metrics scrape, with no secret id or value in it', async () => {
    countAuthFailure(gw.metrics, 'invalid_token'); // the access-control layer calls this; it is not merged yet
    countAuthFailure(gw.metrics, 'Bearer abc.def'); // not a reason word: counted as other
    for (const k of ['e1', 'e2', 'e3', 'e4']) await get(`/v1/variables/${k}`); // max_entries 3: evictions
    const m = await scrape();
    const expected: Array<[string, string]> = [
      ['secrets_gateway_requests_total', 'counter'],
      ['secrets_gateway_request_duration_seconds', 'histogram'],
      ['secrets_gateway_cache_hits_total', 'counter'],
      ['secrets_gateway_cache_misses_total', 'counter'],
      ['secrets_gateway_cache_entries', 'gauge'],
      ['secrets_gateway_cache_evictions_total', 'counter'],
      ['secrets_gateway_served_age_seconds', 'histogram'],
      ['secrets_gateway_stale_served_total', 'counter'],
      ['secrets_gateway_coalesced_waits_total', 'counter'],
      ['secrets_gateway_invalidations_total', 'counter'],
      ['secrets_gateway_backend_requests_total', 'counter'],
      ['secrets_gateway_backend_request_duration_seconds', 'histogram'],
      ['secrets_gateway_backend_last_success_timestamp_seconds', 'gauge'],
      ['secrets_gateway_auth_failures_total', 'counter'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
    ];
    for (const [name, type] of expected) assert.equal(m.types.get(name), type, `${name} is a ${type}`);
    assert.ok(sum(m, 'secrets_gateway_requests_total', { kind: 'variable', outcome: 'found' }) >= 1000);
    assert.ok(sum(m, 'secrets_gateway_requests_total', { kind: 'variable', outcome: 'not_found' }) >= 1);
    assert.ok(sum(m, 'secrets_gateway_requests_total', { kind: 'variable', outcome: 'error' }) >= 1);
    assert.ok(sum(m, 'secrets_gateway_request_duration_seconds_count', { kind: 'variable' }) >= 1000);
    assert.ok(sum(m, 'secrets_gateway_cache_hits_total', { kind: 'variable', state: 'fresh' }) >= 1);
    assert.ok(sum(m, 'secrets_gateway_cache_misses_total', { kind: 'variable' }) >= 1);
    assert.ok(sum(m, 'secrets_gateway_cache_hits_total', { kind: 'variable' }) + sum(m, 'secrets_gateway_cache_misses_total', { kind: 'variable' }) >= 1000);
    assert.equal(sum(m, 'secrets_gateway_cache_entries', { kind: 'variable' }), 3);
    assert.ok(sum(m, 'secrets_gateway_cache_evictions_total') >= 1);
    assert.ok(sum(m, 'secrets_gateway_served_age_seconds_count', { kind: 'variable' }) >= 1000);
    assert.ok(sum(m, 'secrets_gateway_served_age_seconds_bucket', { kind: 'variable', le: '1' }) >= 1);
    assert.equal(sum(m, 'secrets_gateway_invalidations_total', { source: 'api' }), 3);
    assert.ok(sum(m, 'secrets_gateway_backend_requests_total', { backend: 'gcp', operation: 'get_variable', outcome: 'found' }) >= 1);
    assert.ok(sum(m, 'secrets_gateway_backend_requests_total', { backend: 'gcp', operation: 'get_variable', outcome: 'not_found' }) >= 1);
    assert.ok(sum(m, 'secrets_gateway_backend_request_duration_seconds_count', { backend: 'gcp', operation: 'get_version' }) >= 1);
    assert.ok(Math.abs(sum(m, 'secrets_gateway_backend_last_success_timestamp_seconds', { backend: 'gcp' }) - Date.now() / 1000) < 60);
    assert.equal(sum(m, 'secrets_gateway_auth_failures_total', { reason: 'invalid_token' }), 1);
    assert.equal(sum(m, 'secrets_gateway_auth_failures_total', { reason: 'other' }), 1);
    // Labels are bounded sets: never an id, never a value.
    const labelValues = m.samples.flatMap((s) => Object.values(s.labels));
    // (stale_served_total moves in the stale-if-error test, on the gateway with a short TTL.)
    for (const leak of ['cold', 'warm', 'plain', 'absent', COLD_VALUE, WARM_VALUE]) assert.ok(!labelValues.includes(leak), `${leak} is not a label value`);
  });
});
