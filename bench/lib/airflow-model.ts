// What the same lookups would cost Airflow itself, from spec §3 (SecretCache) and §2
// (the chain), computed lookup by lookup over the very trace the gateway was driven with.
// The model, stated once (RESULTS.md repeats it):
//
// No cache. Every Variable.get / get_connection walks the chain in order and stops at the
// first hit: one call to each backend on the path up to the one that has the key, every
// backend for a key that exists nowhere. (Airflow then asks EnvironmentVariablesBackend,
// free, and MetastoreBackend, a database query: not counted here, as the gateway asks
// neither.) Airflow allows one custom backend, not a chain of two; the model charges the
// same two-backend path the gateway walks, which is the cost Airflow would pay per backend
// if it could.
//
// SecretCache as Airflow ships it. Only the DAG processor calls SecretCache.init(); in a task
// the cache is off ("no caching … when DAG tasks are run"), so task starts cost exactly the
// no-cache figure. Also off by default ([secrets] use_cache = False).
//
// SecretCache if it were on in the workers (hypothetical, and generous to Airflow): one cache
// per worker that lives across its tasks (in reality each task runs in a fresh process),
// TTL [secrets] cache_ttl_seconds; an entry expires when now - saved > ttl and is then
// re-fetched; found connections and found variables are cached; a missing connection is
// never cached, and a missing variable is not cached either in the task SDK (the code workers
// run; core caches None). No invalidation on rotation: a rotated secret is served old until
// the entry expires.

export type Kind = 'connection' | 'variable';

export interface TraceLookup {
  /** Simulated seconds since the start. */
  t: number;
  worker: number;
  kind: Kind;
  id: string;
}

export interface Rotation {
  t: number;
  kind: Kind;
  id: string;
}

/** Where each key is stored: the index in the chain of the backend that has it, or null. */
export type Placement = (kind: Kind, id: string) => number | null;

export interface ModelCost {
  /** Calls per backend, in chain order. */
  calls: number[];
  /** Lookups answered with a value older than the backend's current one. */
  staleServed: number;
}

/** The backends a lookup asks: every one up to the holder (all of them for a key that exists nowhere). */
function pathLength(chainLength: number, holder: number | null): number {
  return holder === null ? chainLength : holder + 1;
}

export function airflowWithoutCache(trace: readonly TraceLookup[], chainLength: number, placement: Placement): ModelCost {
  const calls = new Array<number>(chainLength).fill(0);
  for (const l of trace) {
    const n = pathLength(chainLength, placement(l.kind, l.id));
    for (let i = 0; i < n; i++) calls[i]!++;
  }
  return { calls, staleServed: 0 };
}

export function airflowSecretCacheInWorkers(
  trace: readonly TraceLookup[],
  chainLength: number,
  placement: Placement,
  options: { ttlSeconds: number; rotations: readonly Rotation[] },
): ModelCost {
  const calls = new Array<number>(chainLength).fill(0);
  // worker → key → when it was saved, and which rotation generation it holds
  const saved = new Map<string, { at: number; generation: number }>();
  const generation = (kind: Kind, id: string, t: number) => options.rotations.filter((r) => r.kind === kind && r.id === id && r.t <= t).length;
  let staleServed = 0;
  for (const l of [...trace].sort((a, b) => a.t - b.t)) {
    const key = `${l.worker}\u0000${l.kind}\u0000${l.id}`;
    const entry = saved.get(key);
    const current = generation(l.kind, l.id, l.t);
    if (entry && l.t - entry.at <= options.ttlSeconds) {
      if (entry.generation !== current) staleServed++;
      continue;
    }
    const holder = placement(l.kind, l.id);
    const n = pathLength(chainLength, holder);
    for (let i = 0; i < n; i++) calls[i]!++;
    // Found values only (connections: never None; variables: the task SDK caches found ones only).
    if (holder !== null) saved.set(key, { at: l.t, generation: current });
  }
  return { calls, staleServed };
}
