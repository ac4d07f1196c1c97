// The cache in front of the backend chain, per kind and id. Its rules, in order:
//   fresh       age < TTL: served from memory (X-Cache: hit).
//   SWR         past TTL, within stale_while_revalidate: served at once (stale) while one
//               background refresh runs.
//   refresh     otherwise one lookup per key (coalesced: every waiter shares it). A backend that
//               offers versions is asked for the version only; the same identity re-arms the TTL.
//               Identities cannot collide (a Vault KV v2 number with its created_time, a GCP version
//               name with its create_time, an AWS VersionId): a secret deleted and created again is
//               a new version even where its number starts again at 1.
//   stale-if-error  the refresh failed: the last good value is served (stale) while it is at most
//               max_stale past its TTL; past that, the failure (503) goes to the client.
//   negative    not-found answers are kept for negative_ttl, with no SWR and no stale-if-error.
// The client may ask for more: `no-cache` (ask a backend) or `max-age=N` (nothing older than N s).
// Both are coalesced and rate-limited: an answer confirmed less than refresh_min_interval ago
// satisfies them, so a retry loop cannot hammer a backend; and when the refresh fails, no stale
// answer older than asked for is served: the client gets the 503. An answer's age counts from when
// its lookup started (the backend read it then or later), and such a request joins a lookup in
// flight only if that start is recent enough for it: otherwise it waits for it and asks again.
// Invalidations drop entries and the lookups in flight for them, and a lookup that started before
// any invalidation is served to its waiters but not stored.
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { PackedConnection, type Connection } from '../airflow/connection.ts';
import type { BackendChain, Resolved } from '../backends/chain.ts';
import { SECRET_KINDS, type SecretKind, type SecretsBackend } from '../backends/types.ts';
import type { CacheConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { flatString } from '../support/flat-string.ts';
import { batchedCounter, batchedHistogram, type BatchedCounter, type BatchedHistogram, type GatewayMetrics, type InvalidationSource } from '../metrics.ts';
import { scopeMatcher, type InvalidationScope } from './invalidation.ts';
import type { Answer, CachedValue, CacheState, RequestFreshness, SecretResolver } from './types.ts';

interface Entry {
  kind: SecretKind;
  id: string;
  /** null: a not-found answer. A connection is kept packed (its API JSON text), see stored(). */
  found: Resolved<unknown> | null;
  fingerprint: string | undefined;
  /** When the lookup that last gave or confirmed this answer started (ms, on the cache's clock):
   * the backend read it at that moment or later. */
  confirmedAt: number;
  ttlMs: number;
  /** The last refresh that failed, so that retries within refresh_min_interval do not wait again. */
  failure?: { at: number; error: unknown };
}

/** A lookup in flight for a key; `startedAt` on the cache's clock. */
interface Flight {
  kind: SecretKind;
  id: string;
  startedAt: number;
  promise: Promise<Refreshed>;
}

interface Refreshed {
  entry: Entry;
  state: Extract<CacheState, 'miss' | 'revalidated'>;
}

export interface SecretCacheOptions {
  config: CacheConfig;
  chain: BackendChain;
  /** cache_ttl_seconds of each backend that sets one, by backend name. */
  backendTtlSeconds: ReadonlyMap<string, number>;
  metrics: GatewayMetrics;
  logger: Logger;
  /** The clock, in ms; tests drive their own. */
  now?: () => number;
}

/** The key covers everything that changes the answer. Teams, when they come, go first. The
 * prefix is one shared string per kind, so a kept key costs one pair of pointers (prefix, id). */
const KEY_PREFIX = Object.fromEntries(SECRET_KINDS.map((kind) => [kind, `\u0000${kind}\u0000`])) as Record<SecretKind, string>;
export const cacheKey = (kind: SecretKind, id: string, team = ''): string => (team === '' ? KEY_PREFIX[kind] + id : `${team}${KEY_PREFIX[kind]}${id}`);

const NO_PREFERENCE: RequestFreshness = { noCache: false };

const isBackendFailure = (err: unknown): boolean => err instanceof GatewayError && err.code === 'backend_unavailable';

/** Backends that report changes to their data (local files) invalidate instead of waiting for a TTL. */
type ChangeReporting = SecretsBackend & { onChange(listener: () => void): void };
const reportsChanges = (b: SecretsBackend): b is ChangeReporting => typeof (b as Partial<ChangeReporting>).onChange === 'function';

export class SecretCache implements SecretResolver {
  private readonly config: CacheConfig;
  private readonly chain: BackendChain;
  private readonly backendTtlSeconds: ReadonlyMap<string, number>;
  private readonly metrics: GatewayMetrics;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly versionKey: Buffer | string;
  private readonly entries: LRUCache<string, Entry>;
  private readonly flights = new Map<string, Flight>();
  /** Bumped by every invalidation: a lookup that started under an older epoch is not stored. */
  private epoch = 0;
  /** The metrics every answer updates, per kind, with their labels bound once (see batchedCounter). */
  private readonly freshHits: Record<SecretKind, BatchedCounter>;
  private readonly servedAge: Record<SecretKind, BatchedHistogram>;

  constructor(options: SecretCacheOptions) {
    this.config = options.config;
    this.chain = options.chain;
    this.backendTtlSeconds = options.backendTtlSeconds;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.versionKey = options.config.version_key ?? randomBytes(32);
    this.entries = new LRUCache<string, Entry>({
      max: options.config.max_entries,
      maxSize: options.config.max_bytes,
      sizeCalculation: (entry) => approximateBytes(entry),
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') this.metrics.cacheEvictions.inc();
      },
    });
    this.metrics.countCacheEntriesWith(() => this.countByKind());
    const perKind = <T>(make: (kind: SecretKind) => T) => Object.fromEntries(SECRET_KINDS.map((kind) => [kind, make(kind)])) as Record<SecretKind, T>;
    this.freshHits = perKind((kind) => batchedCounter(this.metrics.cacheHits, { kind, state: 'fresh' }));
    this.servedAge = perKind((kind) => batchedHistogram(this.metrics.servedAge, { kind }));
    for (const { backend } of this.chain.links) {
      if (reportsChanges(backend)) backend.onChange(() => this.invalidate({ all: true }, 'file_change'));
    }
  }

  /** Drops the entries a scope names (and the lookups in flight for them); returns how many. */
  invalidate(scope: InvalidationScope, source: InvalidationSource): number {
    this.epoch++;
    this.metrics.invalidations.inc({ source });
    if ('all' in scope) {
      const n = this.entries.size;
      this.entries.clear();
      this.flights.clear();
      return n;
    }
    const matches = scopeMatcher(scope);
    const keys = [...this.entries.entries()].filter(([, e]) => matches(e.kind, e.id)).map(([k]) => k);
    for (const key of keys) this.entries.delete(key);
    for (const [key, flight] of this.flights) if (matches(flight.kind, flight.id)) this.flights.delete(key);
    return keys.length;
  }

  /** The answer, when the cache holds a fresh one the client accepts: a hit, at once, with no
   * promise (the path of almost every request). undefined: ask resolve(). As resolve(), a
   * connection comes as a PackedConnection. */
  fresh<K extends SecretKind>(kind: K, id: string, freshness: RequestFreshness = NO_PREFERENCE): Answer<CachedValue[K]> | undefined {
    if (!this.config.enabled) return undefined;
    const entry = this.entries.get(cacheKey(kind, id));
    if (!entry) return undefined;
    const age = this.now() - entry.confirmedAt;
    return age < entry.ttlMs && this.clientAccepts(freshness, age) ? this.serve<CachedValue[K]>(entry, 'hit') : undefined;
  }

  /** The answer, through the freshness rules (the chain's resolve(kind, id) when they say to ask);
   * a connection comes as a PackedConnection (`.connection()` unpacks it where its fields are needed). */
  async resolve<K extends SecretKind>(kind: K, id: string, freshness: RequestFreshness = NO_PREFERENCE): Promise<Answer<CachedValue[K]>> {
    type T = CachedValue[K];
    if (!this.config.enabled) return { found: stored(kind, await this.chain.resolve(kind, id)) as Resolved<T> | null };
    const key = cacheKey(kind, id);
    const entry = this.entries.get(key);
    if (!entry) return this.served<T>(await this.refresh(kind, id, key, freshness));

    const now = this.now();
    const age = now - entry.confirmedAt;
    const accepts = this.clientAccepts(freshness, age);
    if (accepts) {
      if (age < entry.ttlMs) return this.serve<T>(entry, 'hit');
      if (entry.found && age < entry.ttlMs + this.config.stale_while_revalidate_seconds * 1000) {
        this.refresh(kind, id, key, freshness).catch(() => {
          // The chain has logged the failure; the entry stays, and the next request past the window retries.
        });
        return this.serve<T>(entry, 'stale', 'revalidating');
      }
      if (this.recentlyFailed(entry, now) && this.withinMaxStale(entry, now)) return this.serve<T>(entry, 'stale', 'backend_error');
    } else if (this.recentlyFailed(entry, now)) {
      // Asked for fresher than we have, and the backends just failed: do not ask them again yet.
      throw entry.failure!.error;
    }
    try {
      return this.served<T>(await this.refresh(kind, id, key, freshness));
    } catch (err) {
      const later = this.now();
      if (accepts && isBackendFailure(err) && this.withinMaxStale(entry, later)) return this.serve<T>(entry, 'stale', 'backend_error');
      throw err;
    }
  }

  /** Does the client's Cache-Control accept an answer this old? no-cache is max-age=0; both are
   * rate-limited: an answer confirmed within refresh_min_interval always satisfies them. */
  private clientAccepts(freshness: RequestFreshness, ageMs: number): boolean {
    const asked = freshness.noCache ? 0 : freshness.maxAgeSeconds;
    if (asked === undefined) return true;
    return ageMs <= Math.max(asked, this.config.refresh_min_interval_seconds) * 1000;
  }

  private recentlyFailed(entry: Entry, now: number): boolean {
    return entry.failure !== undefined && now - entry.failure.at < this.config.refresh_min_interval_seconds * 1000;
  }

  /** Stale-if-error applies to found values only, up to max_stale past their TTL. */
  private withinMaxStale(entry: Entry, now: number): boolean {
    return entry.found !== null && now - entry.confirmedAt <= entry.ttlMs + this.config.max_stale_seconds * 1000;
  }

  private served<T>(refreshed: Refreshed): Answer<T> {
    return this.serve<T>(refreshed.entry, refreshed.state);
  }

  private serve<T>(entry: Entry, state: CacheState, staleReason?: 'revalidating' | 'backend_error'): Answer<T> {
    const ageMs = Math.max(0, this.now() - entry.confirmedAt);
    const { kind } = entry;
    if (state === 'hit') this.freshHits[kind].inc();
    else if (state === 'stale') {
      this.metrics.cacheHits.inc({ kind, state: 'stale' });
      this.metrics.staleServed.inc({ kind, reason: staleReason ?? 'revalidating' });
    } else this.metrics.cacheMisses.inc({ kind });
    this.servedAge[kind].observe(ageMs / 1000);
    const cache = { state, ageSeconds: Math.floor(ageMs / 1000), ...(entry.fingerprint ? { fingerprint: entry.fingerprint } : {}) };
    return { found: entry.found as Resolved<T> | null, cache };
  }

  /**
   * One lookup per key in flight: later callers wait for the same one, if it started recently enough
   * for what they asked: a no-cache request does not take an answer read before it arrived (beyond
   * refresh_min_interval). Such a request waits for that lookup to end, then asks again (or gets its
   * failure, which is rate-limited like any other): lookups of a key stay one at a time, so an older
   * one never overwrites a newer one's answer.
   */
  private refresh(kind: SecretKind, id: string, key: string, freshness: RequestFreshness, arrivedAt = this.now()): Promise<Refreshed> {
    const inFlight = this.flights.get(key);
    if (inFlight) {
      if (!this.clientAccepts(freshness, arrivedAt - inFlight.startedAt)) {
        return inFlight.promise.then(() => this.refresh(kind, id, key, freshness, arrivedAt));
      }
      this.metrics.coalescedWaits.inc();
      return inFlight.promise;
    }
    const startedAt = this.now();
    // The entry as it is when the lookup starts: confirmed by version where the backend can.
    const previous = this.entries.peek(key);
    const promise = this.fetch(kind, id, key, previous, startedAt).finally(() => {
      if (this.flights.get(key)?.promise === promise) this.flights.delete(key);
    });
    this.flights.set(key, { kind, id, startedAt, promise });
    return promise;
  }

  private async fetch(kind: SecretKind, id: string, key: string, previous: Entry | undefined, startedAt: number): Promise<Refreshed> {
    const epoch = this.epoch;
    try {
      const cached = previous?.found;
      const source = cached?.version !== undefined ? this.chain.versionedSource(kind, id, cached.source) : undefined;
      if (previous && cached && source && (await this.chain.currentVersion(kind, id, source)) === cached.version) {
        return this.store(key, epoch, { ...previous, failure: undefined, confirmedAt: startedAt }, 'revalidated');
      }
      const looked = await this.chain.resolve(kind, id);
      const fingerprint = looked ? this.fingerprint(kind, id, looked.value) : undefined;
      const found = stored(kind, looked);
      const unchanged =
        previous !== undefined && (found ? previous.found?.source === found.source && previous.fingerprint === fingerprint : previous.found === null);
      const ttlSeconds = found ? (this.backendTtlSeconds.get(found.source) ?? this.config.ttl_seconds) : this.config.negative_ttl_seconds;
      // An entry that expires on its own (an overlay override) is never served past its expiry.
      const expiresInMs = found?.expires ? Date.parse(found.expires) - Date.now() : Infinity;
      const entry: Entry = { kind, id, found, fingerprint, confirmedAt: startedAt, ttlMs: Math.max(0, Math.min(ttlSeconds * 1000, expiresInMs)) };
      return this.store(key, epoch, entry, unchanged ? 'revalidated' : 'miss');
    } catch (err) {
      if (previous && this.entries.peek(key) === previous) previous.failure = { at: this.now(), error: err };
      throw err;
    }
  }

  private store(key: string, epoch: number, entry: Entry, state: Refreshed['state']): Refreshed {
    // A TTL of 0 caches nothing; an invalidation during the lookup means its answer may be out of date.
    if (entry.ttlMs > 0 && epoch === this.epoch) this.entries.set(key, entry);
    else if (epoch === this.epoch) this.entries.delete(key);
    return { entry, state };
  }

  /** X-Secret-Version: an HMAC of the value, so a client can tell a change without the gateway
   * ever putting the value, or a plain hash of it, anywhere but the body. */
  fingerprint(kind: SecretKind, id: string, value: unknown): string {
    return flatString(createHmac('sha256', this.versionKey).update(`${kind}\u0000${id}\u0000`).update(JSON.stringify(value) ?? 'null').digest('base64url').slice(0, 22));
  }

  private countByKind(): Record<SecretKind, number> {
    const counts = Object.fromEntries(SECRET_KINDS.map((k) => [k, 0])) as Record<SecretKind, number>;
    for (const entry of this.entries.values()) counts[entry.kind]++;
    return counts;
  }
}

/** What the cache keeps of an answer: a connection packed into its API JSON text (a third of
 * the parsed object's memory, and what a cache hit sends), anything else as it came. */
function stored(kind: SecretKind, found: Resolved<unknown> | null): Resolved<unknown> | null {
  if (kind !== 'connection' || !found) return found;
  // A literal, not a spread of `found` (whose `source` was added after its creation and sits out of line).
  const value = new PackedConnection(found.value as Connection);
  const packed: Resolved<unknown> = found.version === undefined ? { value, source: found.source } : { value, source: found.source, version: found.version };
  if (found.expires) packed.expires = found.expires;
  return packed;
}

/** What an entry costs, roughly: the text of its value, its id, and a fixed overhead. */
function approximateBytes(entry: Entry): number {
  const value = entry.found?.value;
  const bytes = value instanceof PackedConnection ? value.approximateBytes : value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value) ?? '');
  return bytes + 2 * entry.id.length + 256;
}

export function backendTtls(backends: ReadonlyArray<{ name?: string | undefined; type: string; cache_ttl_seconds?: number | undefined }>): Map<string, number> {
  const ttls = new Map<string, number>();
  for (const b of backends) if (b.cache_ttl_seconds !== undefined) ttls.set(b.name ?? b.type, b.cache_ttl_seconds);
  return ttls;
}
