// Each freshness rule of the cache, driven by a clock the test controls, over the
// real chain and an in-memory backend whose answers, failures and versions the
// test scripts (and whose calls it counts).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Connection } from '../../../src/airflow/connection.ts';
import { BackendChain, chainLink } from '../../../src/backends/chain.ts';
import { BackendError, type Found, type SecretKind, type SecretsBackend, type VariableValue } from '../../../src/backends/types.ts';
import { SecretCache } from '../../../src/cache/secret-cache.ts';
import type { Answer, RequestFreshness } from '../../../src/cache/types.ts';
import { Value } from '@sinclair/typebox/value';
import { CacheConfigSchema, type CacheConfig } from '../../../src/config/schema.ts';
import { GatewayError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/logging.ts';
import { createMetrics, type GatewayMetrics } from '../../../src/metrics.ts';

/** Variables in a Map; `failing` makes every call throw; `gate` holds calls until released;
 * `holdAfterRead` holds a value call after it has read the value (a slow answer in transit). */
class ScriptedBackend implements SecretsBackend {
  readonly name: string;
  readonly type = 'scripted';
  readonly values = new Map<string, { value: string; version?: string }>();
  failing = false;
  calls: Array<'value' | 'version'> = [];
  gate: Promise<void> | undefined;
  holdAfterRead: Promise<void> | undefined;
  withVersions: boolean;

  constructor(name = 'scripted', withVersions = false) {
    this.name = name;
    this.withVersions = withVersions;
  }
  serves(kind: SecretKind): boolean {
    return kind === 'variable';
  }
  async init(): Promise<void> {}
  status() {
    return { state: 'ready' as const };
  }
  async getConnection(): Promise<Found<Connection> | null> {
    return null;
  }
  async getConfig(): Promise<Found<VariableValue> | null> {
    return null;
  }
  async getVariable(key: string): Promise<Found<VariableValue> | null> {
    this.calls.push('value');
    await this.gate;
    if (this.failing) throw new BackendError('unreachable', `${this.name}: down`);
    const v = this.values.get(key);
    await this.holdAfterRead;
    if (!v) return null;
    return this.withVersions && v.version ? { value: v.value, version: v.version } : { value: v.value };
  }
  async getVersion(_kind: SecretKind, id: string): Promise<string | null> {
    this.calls.push('version');
    await this.gate;
    if (this.failing) throw new BackendError('unreachable', `${this.name}: down`);
    return this.values.get(id)?.version ?? null;
  }
  async close(): Promise<void> {}
  valueCalls(): number {
    return this.calls.filter((c) => c === 'value').length;
  }
}

// The configured defaults (ttl 300 s, negative 30 s, SWR 60 s, max_stale 900 s, min interval 1 s), smaller bounds.
const DEFAULTS: CacheConfig = { ...(Value.Default(CacheConfigSchema, {}) as CacheConfig), max_entries: 1000, max_bytes: 1 << 20 };

interface Rig {
  cache: SecretCache;
  backend: ScriptedBackend;
  metrics: GatewayMetrics;
  logs: string[];
  clock: { t: number };
  get(id: string, freshness?: Partial<RequestFreshness>): Promise<Answer<VariableValue>>;
}

function rig(config: Partial<CacheConfig> = {}, backend = new ScriptedBackend()): Rig {
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }) });
  const metrics = createMetrics();
  const chain = new BackendChain([chainLink(backend, {})], logger, metrics);
  const clock = { t: 1_000_000 };
  const cache = new SecretCache({ config: { ...DEFAULTS, ...config }, chain, backendTtlSeconds: new Map(), metrics, logger, now: () => clock.t });
  return { cache, backend, metrics, logs, clock, get: (id, f) => cache.resolve('variable', id, { noCache: false, ...f }) };
}

const seconds = (r: Rig, s: number) => (r.clock.t += s * 1000);
/** Lets background refreshes run to completion. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const counter = async (metric: { get(): Promise<{ values: Array<{ value: number; labels: object }> }> }, labels: object = {}) =>
  (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((a, v) => a + v.value, 0);

describe('cache freshness rules (controlled clock)', () => {
  it('fresh: within the TTL the answer comes from memory, with its age', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v1' });
    const first = await r.get('k');
    assert.equal(first.cache?.state, 'miss');
    assert.equal(first.cache?.ageSeconds, 0);
    assert.equal(first.found?.value, 'v1');
    seconds(r, 299);
    r.backend.values.set('k', { value: 'v2' });
    const second = await r.get('k');
    assert.deepEqual([second.cache?.state, second.cache?.ageSeconds, second.found?.value], ['hit', 299, 'v1']);
    assert.equal(second.cache?.fingerprint, first.cache?.fingerprint);
    assert.equal(r.backend.valueCalls(), 1);
    assert.equal(await counter(r.metrics.cacheHits, { state: 'fresh' }), 1);
    assert.equal(await counter(r.metrics.cacheMisses), 1);
  });

  it('stale-while-revalidate: past the TTL, within the window, stale at once and one background refresh', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v1' });
    await r.get('k');
    r.backend.values.set('k', { value: 'v2' });
    seconds(r, 300 + 30);
    let release!: () => void;
    r.backend.gate = new Promise((res) => (release = res));
    const stale = await Promise.all([r.get('k'), r.get('k'), r.get('k')]);
    for (const a of stale) assert.deepEqual([a.cache?.state, a.cache?.ageSeconds, a.found?.value], ['stale', 330, 'v1']);
    assert.equal(r.backend.valueCalls(), 2, 'one background refresh for three stale answers');
    release();
    r.backend.gate = undefined;
    await settle();
    const after = await r.get('k');
    assert.deepEqual([after.cache?.state, after.cache?.ageSeconds, after.found?.value], ['hit', 0, 'v2']);
    assert.notEqual(after.cache?.fingerprint, stale[0]!.cache?.fingerprint, 'X-Secret-Version changes with the value');
    assert.equal(await counter(r.metrics.staleServed, { reason: 'revalidating' }), 3);
  });

  it('stale-if-error: past the window with the backend failing, the last good value, and no retry storm', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v1' });
    await r.get('k');
    r.backend.failing = true;
    seconds(r, 300 + 60 + 1);
    const a = await r.get('k');
    assert.deepEqual([a.cache?.state, a.found?.value, a.cache?.ageSeconds], ['stale', 'v1', 361]);
    assert.equal(r.backend.valueCalls(), 2);
    // Within refresh_min_interval of the failure the backend is not asked again.
    seconds(r, 0.5);
    assert.equal((await r.get('k')).cache?.state, 'stale');
    assert.equal(r.backend.valueCalls(), 2);
    seconds(r, 1);
    assert.equal((await r.get('k')).cache?.state, 'stale');
    assert.equal(r.backend.valueCalls(), 3);
    assert.equal(await counter(r.metrics.staleServed, { reason: 'backend_error' }), 3);
    // The backend returns: the next refresh succeeds and the answer is fresh again.
    r.backend.failing = false;
    seconds(r, 1);
    const back = await r.get('k');
    assert.deepEqual([back.cache?.state, back.cache?.ageSeconds], ['revalidated', 0]);
  });

  it('max_stale: past TTL + max_stale, a failing backend is a 503, not a stale value', async () => {
    const r = rig({ max_stale_seconds: 600 });
    r.backend.values.set('k', { value: 'v1' });
    await r.get('k');
    r.backend.failing = true;
    seconds(r, 300 + 600);
    assert.equal((await r.get('k')).cache?.state, 'stale', 'exactly at the bound it is still served');
    seconds(r, 1.5);
    await assert.rejects(r.get('k'), (e: unknown) => e instanceof GatewayError && e.code === 'backend_unavailable' && e.status === 503);
  });

  it('negative TTL: a not-found answer is kept for negative_ttl, then asked again; never served stale', async () => {
    const r = rig();
    assert.equal((await r.get('k')).found, null);
    r.backend.values.set('k', { value: 'new' });
    seconds(r, 29);
    const cached = await r.get('k');
    assert.deepEqual([cached.found, cached.cache?.state, cached.cache?.fingerprint], [null, 'hit', undefined]);
    seconds(r, 2);
    const found = await r.get('k');
    assert.deepEqual([found.found?.value, found.cache?.state], ['new', 'miss']);
    // A not-found answer past its TTL with the backend failing is the failure, not the old "not found".
    r.backend.values.delete('k');
    await r.cache.invalidate({ all: true }, 'api');
    assert.equal((await r.get('k')).found, null);
    r.backend.failing = true;
    seconds(r, 31);
    await assert.rejects(r.get('k'), (e: unknown) => e instanceof GatewayError && e.code === 'backend_unavailable');
    assert.equal(r.backend.valueCalls(), 4);
  });

  it('no-cache: asks the backend (coalesced), at most once per key per refresh_min_interval; a failure is a 503', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v1' });
    await r.get('k');
    seconds(r, 0.5);
    assert.equal((await r.get('k', { noCache: true })).cache?.state, 'hit', 'confirmed 0.5 s ago: good enough');
    assert.equal(r.backend.valueCalls(), 1);
    seconds(r, 10);
    r.backend.values.set('k', { value: 'v2' });
    const refreshed = await Promise.all(Array.from({ length: 20 }, () => r.get('k', { noCache: true })));
    assert.equal(r.backend.valueCalls(), 2, 'twenty no-cache requests, one lookup');
    for (const a of refreshed) assert.deepEqual([a.found?.value, a.cache?.state], ['v2', 'miss']);
    assert.equal(await counter(r.metrics.coalescedWaits), 19);
    // A retry loop right after: nothing new reaches the backend.
    for (let i = 0; i < 50; i++) await r.get('k', { noCache: true });
    assert.equal(r.backend.valueCalls(), 2);
    seconds(r, 5);
    r.backend.failing = true;
    await assert.rejects(r.get('k', { noCache: true }), (e: unknown) => e instanceof GatewayError && e.code === 'backend_unavailable');
    // ... and a retry loop after the failure does not reach it either, within the interval.
    for (let i = 0; i < 50; i++) await assert.rejects(r.get('k', { noCache: true }));
    assert.equal(r.backend.valueCalls(), 3);
    // Without no-cache, the same moment serves the cached value (still within its TTL).
    assert.equal((await r.get('k')).cache?.state, 'hit');
  });

  it('no-cache does not take a lookup that read before it arrived: it waits for it, then asks again', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v1' });
    let release!: () => void;
    r.backend.holdAfterRead = new Promise((res) => (release = res));
    const early = r.get('k');
    await settle();
    // The backend has read v1 and the answer is on its way; then the secret changes, and 2 s later
    // (past refresh_min_interval) a client asks with no-cache.
    r.backend.values.set('k', { value: 'v2' });
    seconds(r, 2);
    const plain = r.get('k');
    const noCache = r.get('k', { noCache: true });
    seconds(r, 0.5);
    const noCacheSoon = r.get('k', { noCache: true });
    r.backend.holdAfterRead = undefined;
    release();
    const [a, b, c, d] = await Promise.all([early, plain, noCache, noCacheSoon]);
    assert.deepEqual([a.found?.value, a.cache?.state, a.cache?.ageSeconds], ['v1', 'miss', 2], 'the age counts from when the lookup started');
    assert.equal(b.found?.value, 'v1', 'a request without no-cache shares the lookup in flight');
    assert.deepEqual([c.found?.value, c.cache?.state], ['v2', 'miss'], 'no-cache: a lookup that started after it arrived');
    assert.equal(d.found?.value, 'v2', 'the later no-cache request joined the second lookup');
    assert.equal(r.backend.valueCalls(), 2);
  });

  it('max-age: an older answer is refreshed; if it cannot be had fresh enough, 503', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v1' });
    await r.get('k');
    seconds(r, 10);
    assert.deepEqual([(await r.get('k', { maxAgeSeconds: 20 })).cache?.state, r.backend.valueCalls()], ['hit', 1]);
    const fresher = await r.get('k', { maxAgeSeconds: 5 });
    assert.deepEqual([fresher.cache?.state, fresher.cache?.ageSeconds, r.backend.valueCalls()], ['revalidated', 0, 2]);
    seconds(r, 10);
    r.backend.failing = true;
    await assert.rejects(r.get('k', { maxAgeSeconds: 5 }), (e: unknown) => e instanceof GatewayError && e.status === 503);
    // A request that accepts that age still gets the cached value.
    assert.equal((await r.get('k', { maxAgeSeconds: 60 })).cache?.state, 'hit');
  });

  it('revalidates by version: an unchanged version re-arms the TTL without fetching the value', async () => {
    const r = rig({}, new ScriptedBackend('versioned', true));
    r.backend.values.set('k', { value: 'v1', version: '1' });
    await r.get('k');
    seconds(r, 300 + 61);
    const same = await r.get('k');
    assert.deepEqual([same.cache?.state, same.cache?.ageSeconds, same.found?.value], ['revalidated', 0, 'v1']);
    assert.deepEqual(r.backend.calls, ['value', 'version']);
    r.backend.values.set('k', { value: 'v2', version: '2' });
    seconds(r, 300 + 61);
    const changed = await r.get('k');
    assert.deepEqual([changed.cache?.state, changed.found?.value], ['miss', 'v2']);
    assert.deepEqual(r.backend.calls, ['value', 'version', 'version', 'value']);
    assert.equal(await counter(r.metrics.backendRequests, { operation: 'get_version' }), 2);
  });

  it('coalesces a cold key: one lookup however many wait', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'v' });
    const answers = await Promise.all(Array.from({ length: 500 }, () => r.get('k')));
    assert.equal(r.backend.valueCalls(), 1);
    assert.ok(answers.every((a) => a.found?.value === 'v' && a.cache?.state === 'miss'));
    assert.equal(await counter(r.metrics.coalescedWaits), 499);
  });

  it('invalidates by id, by glob, or all; a lookup in flight during an invalidation is not stored', async () => {
    const r = rig();
    for (const k of ['team/a', 'team/b', 'other']) r.backend.values.set(k, { value: k });
    for (const k of ['team/a', 'team/b', 'other']) await r.get(k);
    assert.equal(r.cache.invalidate({ kind: 'variable', id: 'other' }, 'api'), 1);
    assert.equal(r.cache.invalidate({ kind: 'connection', id: 'team/a' }, 'api'), 0, 'the kind is part of the key');
    assert.equal(r.cache.invalidate({ glob: 'team/*', kind: 'variable' }, 'api'), 2);
    assert.equal(r.cache.invalidate({ all: true }, 'api'), 0);
    let release!: () => void;
    r.backend.gate = new Promise((res) => (release = res));
    const pending = r.get('team/a');
    r.cache.invalidate({ glob: 'team/?' }, 'pubsub');
    release();
    r.backend.gate = undefined;
    assert.equal((await pending).cache?.state, 'miss');
    assert.equal((await r.get('team/a')).cache?.state, 'miss', 'the answer that raced the invalidation was not kept');
    assert.equal(await counter(r.metrics.invalidations, { source: 'api' }), 4);
    assert.equal(await counter(r.metrics.invalidations, { source: 'pubsub' }), 1);
  });

  it('is bounded by entries and bytes, counting evictions', async () => {
    const r = rig({ max_entries: 3 });
    for (let i = 0; i < 5; i++) r.backend.values.set(`k${i}`, { value: 'x' });
    for (let i = 0; i < 5; i++) await r.get(`k${i}`);
    assert.equal(await counter(r.metrics.cacheEvictions), 2);
    assert.equal(await counter(r.metrics.cacheEntries, { kind: 'variable' }), 3);
    const bytes = rig({ max_bytes: 4096 });
    bytes.backend.values.set('big1', { value: 'x'.repeat(1500) });
    bytes.backend.values.set('big2', { value: 'y'.repeat(1500) });
    bytes.backend.values.set('big3', { value: 'z'.repeat(1500) });
    for (const k of ['big1', 'big2', 'big3']) await bytes.get(k);
    assert.equal(await counter(bytes.metrics.cacheEvictions), 1);
    assert.equal((await bytes.get('big1')).cache?.state, 'miss', 'the least recently used went first');
  });

  it('per-backend TTL override, and TTL 0 caches nothing', async () => {
    const r = rig();
    const logger = createLogger({ level: 'silent' });
    const metrics = createMetrics();
    const chain = new BackendChain([chainLink(r.backend, {})], logger, metrics);
    const clock = { t: 0 };
    const cache = new SecretCache({ config: DEFAULTS, chain, backendTtlSeconds: new Map([['scripted', 0]]), metrics, logger, now: () => clock.t });
    r.backend.values.set('k', { value: 'v' });
    await cache.resolve('variable', 'k');
    await cache.resolve('variable', 'k');
    assert.equal(r.backend.valueCalls(), 2);
  });

  it('with enabled: false, every request goes to the backend and carries no cache state', async () => {
    const r = rig({ enabled: false });
    r.backend.values.set('k', { value: 'v' });
    const answers = [await r.get('k'), await r.get('k')];
    assert.equal(r.backend.valueCalls(), 2);
    assert.deepEqual(answers.map((a) => a.cache), [undefined, undefined]);
  });

  it('never logs a value', async () => {
    const r = rig();
    r.backend.values.set('k', { value: 'SECRET-VALUE-123' });
    await r.get('k');
    r.backend.failing = true;
    seconds(r, 1000);
    await r.get('k');
    assert.ok(!r.logs.join('').includes('SECRET-VALUE-123'));
  });
});
