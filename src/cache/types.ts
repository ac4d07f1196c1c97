// What a cached lookup answers besides the value: how fresh it is, as the
// response headers show it (Age, X-Cache, X-Secret-Version).
import type { Resolved } from '../backends/chain.ts';

/** hit: fresh from the cache · miss: fetched from the backends · stale: past its TTL
 * (while revalidating, or because the backends failed) · revalidated: past its TTL or
 * refresh asked for, and a backend confirmed it unchanged. */
export type CacheState = 'hit' | 'miss' | 'stale' | 'revalidated';

export interface CacheInfo {
  state: CacheState;
  /** Whole seconds since a backend last confirmed this answer. */
  ageSeconds: number;
  /** HMAC of the value (never the value): changes when the value changes. Absent for not-found. */
  fingerprint?: string;
}

/** A lookup's answer: the value and where it came from (null: not found), and its freshness
 * (absent when the cache is off). */
export interface Answer<T> {
  found: Resolved<T> | null;
  cache?: CacheInfo;
}

/** What the caller asked for in `Cache-Control`. */
export interface RequestFreshness {
  /** `no-cache`: do not answer from the cache without asking a backend (rate-limited per key). */
  noCache: boolean;
  /** `max-age=N`: answer nothing older than N seconds. */
  maxAgeSeconds?: number;
}
