// What a cached lookup answers besides the value: how fresh it is, as the
// response headers show it (Age, X-Cache, X-Secret-Version).
import type { PackedConnection } from '../airflow/connection.ts';
import type { Resolved } from '../backends/chain.ts';
import type { SecretKind, VariableValue } from '../secrets.ts';

/** What the cache answers with, by kind: a connection kept packed (its API JSON text, which a GET
 * sends as it is; `.connection()` rebuilds the Connection), a variable or config value as it came. */
export interface CachedValue {
  connection: PackedConnection;
  variable: VariableValue;
  config: VariableValue;
}

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

/** What the routes ask: the cache in front of the backend chain, by kind and id. A connection comes
 * packed (its API JSON text, which a GET sends as it is; the Connection is rebuilt only for a URI). */
export interface SecretResolver {
  /** A fresh cached answer the client accepts, synchronously; undefined: ask resolve(). */
  fresh<K extends SecretKind>(kind: K, id: string, freshness?: RequestFreshness): Answer<CachedValue[K]> | undefined;
  resolve<K extends SecretKind>(kind: K, id: string, freshness?: RequestFreshness): Promise<Answer<CachedValue[K]>>;
}
