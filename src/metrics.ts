// The one prom-client registry of a gateway and every metric's name. Each gateway
// builds its own registry (nothing global), so tests can run many side by side.
// Labels are bounded sets (kinds, outcomes, backend names, reasons): never a
// secret id, which would be unbounded and would leak what is asked for.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { Outcome, SecretKind } from './secrets.ts';
import type { AuditSinkObserver } from './audit/sink.ts';

/** How a secret request (or one item of a batch lookup) ended: the audit event's outcome. */
export type RequestOutcome = Outcome;
/** `lookup` labels a batch request that was refused as a whole, before its items were looked at. */
export type RequestKind = SecretKind | 'lookup';
export type BackendOperation = 'get_connection' | 'get_variable' | 'get_config' | 'get_version';
export type StaleReason = 'revalidating' | 'backend_error';
export type InvalidationSource = 'api' | 'pubsub' | 'file_change' | 'write';

const INVALIDATION_PUBSUB_UP = 'secrets_gateway_invalidation_pubsub_up';
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const AGE_BUCKETS = [0, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'kind' | 'outcome'>;
  readonly requestDuration: Histogram<'kind'>;
  readonly cacheHits: Counter<'kind' | 'state'>;
  readonly cacheMisses: Counter<'kind'>;
  readonly cacheEntries: Gauge<'kind'>;
  readonly cacheEvictions: Counter;
  readonly servedAge: Histogram<'kind'>;
  readonly staleServed: Counter<'kind' | 'reason'>;
  readonly coalescedWaits: Counter;
  readonly invalidations: Counter<'source'>;
  readonly invalidationBusUp: Gauge;
  readonly backendRequests: Counter<'backend' | 'operation' | 'outcome'>;
  readonly backendDuration: Histogram<'backend' | 'operation'>;
  readonly backendLastSuccess: Gauge<'backend'>;
  readonly authFailures: Counter<'reason'>;
  readonly writes: Counter<'kind' | 'operation' | 'outcome'>;
  readonly shadowedReads: Counter<'kind' | 'backend' | 'shadowed'>;
  /** The cache registers how to count its entries per kind; read at scrape time. */
  countCacheEntriesWith(count: () => Record<SecretKind, number>): void;
}

// The path of a cached read updates four metrics per request. prom-client hashes the label set on
// every inc/observe, which there costs more than the update itself; so that path uses children with
// their labels fixed once, whose updates reach prom-client in a batch: when the metric is read (a
// scrape, through its collect()) or every BATCH updates. A scrape always sees every update.
const BATCH = 1024;
const batchesOf = new WeakMap<object, Array<{ flush(): void }>>();

function addBatch<T extends { flush(): void }>(metric: object, batch: T): T {
  const list = batchesOf.get(metric) ?? [];
  list.push(batch);
  batchesOf.set(metric, list);
  return batch;
}

/** collect() of the metrics that have batched children. */
function flushBatches(this: object): void {
  for (const batch of batchesOf.get(this) ?? []) batch.flush();
}

export interface BatchedCounter {
  inc(): void;
}
export interface BatchedHistogram {
  observe(value: number): void;
}

/** A child of `counter` with its labels fixed, updated in batches (see above). */
export function batchedCounter<L extends string>(counter: Counter<L>, labels: LabelValues<L>): BatchedCounter {
  let pending = 0;
  const flush = () => {
    if (pending > 0) counter.inc(labels, pending);
    pending = 0;
  };
  addBatch(counter, { flush });
  return {
    inc() {
      if (++pending === BATCH) flush();
    },
  };
}

/** A child of `histogram` with its labels fixed, updated in batches (see above). */
export function batchedHistogram<L extends string>(histogram: Histogram<L>, labels: LabelValues<L>): BatchedHistogram {
  const values = new Float64Array(BATCH);
  let n = 0;
  const flush = () => {
    for (let i = 0; i < n; i++) histogram.observe(labels, values[i]!);
    n = 0;
  };
  addBatch(histogram, { flush });
  return {
    observe(value: number) {
      values[n++] = value;
      if (n === BATCH) flush();
    },
  };
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let countEntries: (() => Record<SecretKind, number>) | undefined;

  return {
    registry,
    requests: new Counter({
      name: 'secrets_gateway_requests_total',
      help: 'Secret requests (each batch lookup item counts once), by kind and outcome: found, not_found, denied, error.',
      labelNames: ['kind', 'outcome'],
      registers,
      collect: flushBatches,
    }),
    requestDuration: new Histogram({
      name: 'secrets_gateway_request_duration_seconds',
      help: 'Time to answer a secret request, by kind (lookup for a batch).',
      labelNames: ['kind'],
      buckets: SECONDS_BUCKETS,
      registers,
      collect: flushBatches,
    }),
    cacheHits: new Counter({
      name: 'secrets_gateway_cache_hits_total',
      help: 'Answers served from the cache without waiting for a backend, by state: fresh (within TTL) or stale.',
      labelNames: ['kind', 'state'],
      registers,
      collect: flushBatches,
    }),
    cacheMisses: new Counter({
      name: 'secrets_gateway_cache_misses_total',
      help: 'Answers that waited for a backend round trip (no entry, expired, no-cache, max-age, or a version check).',
      labelNames: ['kind'],
      registers,
    }),
    cacheEntries: new Gauge({
      name: 'secrets_gateway_cache_entries',
      help: 'Entries in the cache, by kind (not-found answers included).',
      labelNames: ['kind'],
      registers,
      collect() {
        if (!countEntries) return;
        for (const [kind, n] of Object.entries(countEntries())) this.set({ kind }, n);
      },
    }),
    cacheEvictions: new Counter({
      name: 'secrets_gateway_cache_evictions_total',
      help: 'Entries evicted because the cache reached max_entries or max_bytes.',
      registers,
    }),
    servedAge: new Histogram({
      name: 'secrets_gateway_served_age_seconds',
      help: 'How old each answer was when served: seconds since a backend last confirmed it.',
      labelNames: ['kind'],
      buckets: AGE_BUCKETS,
      registers,
      collect: flushBatches,
    }),
    staleServed: new Counter({
      name: 'secrets_gateway_stale_served_total',
      help: 'Answers served past their TTL, by reason: revalidating (stale-while-revalidate) or backend_error (stale-if-error).',
      labelNames: ['kind', 'reason'],
      registers,
    }),
    coalescedWaits: new Counter({
      name: 'secrets_gateway_coalesced_waits_total',
      help: 'Requests that joined a backend lookup already in flight for the same key instead of starting one.',
      registers,
    }),
    invalidations: new Counter({
      name: 'secrets_gateway_invalidations_total',
      help: 'Cache invalidations applied, by source: api, pubsub (from another replica), file_change (a local file changed).',
      labelNames: ['source'],
      registers,
    }),
    invalidationBusUp: new Gauge({
      name: INVALIDATION_PUBSUB_UP,
      help: '1 while subscribed to the Redis invalidation channel, 0 while not (degraded: entries expire on TTL alone). Absent without cache.redis_url.',
      registers: [],
    }),
    backendRequests: new Counter({
      name: 'secrets_gateway_backend_requests_total',
      help: 'Calls to backends, by backend, operation and outcome: found, not_found, error.',
      labelNames: ['backend', 'operation', 'outcome'],
      registers,
    }),
    backendDuration: new Histogram({
      name: 'secrets_gateway_backend_request_duration_seconds',
      help: 'Time a backend took to answer, by backend and operation.',
      labelNames: ['backend', 'operation'],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    backendLastSuccess: new Gauge({
      name: 'secrets_gateway_backend_last_success_timestamp_seconds',
      help: 'Unix time of the last call a backend answered (found or not found) without failing.',
      labelNames: ['backend'],
      registers,
    }),
    authFailures: new Counter({
      name: 'secrets_gateway_auth_failures_total',
      help: 'Requests refused by authentication or authorization, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    writes: new Counter({
      name: 'secrets_gateway_writes_total',
      help: 'Write API calls, by kind, operation (put, delete) and outcome: written, deleted, not_found, precondition_failed, shadowed, error.',
      labelNames: ['kind', 'operation', 'outcome'],
      registers,
    }),
    shadowedReads: new Counter({
      name: 'secrets_gateway_shadowed_reads_total',
      help: 'Backend lookups whose id the writes target also holds, shadowed by the earlier backend that answered: by kind, winning backend and shadowed backend.',
      labelNames: ['kind', 'backend', 'shadowed'],
      registers,
    }),
    countCacheEntriesWith(count) {
      countEntries = count;
    },
  };
}

/** Registers the pub/sub gauge: only gateways with cache.redis_url have one to report. */
export function reportInvalidationBus(metrics: GatewayMetrics): void {
  if (!metrics.registry.getSingleMetric(INVALIDATION_PUBSUB_UP)) metrics.registry.registerMetric(metrics.invalidationBusUp);
}

// A reason is a short snake_case word chosen by code (missing_token, expired, forbidden…); anything
// else is counted as `other`, so a label can never carry a token or an id by mistake.
const REASON = /^[a-z][a-z0-9_]{0,31}$/;

/** Counts one refused request (app.ts's onAuthFailure, which the pipeline calls). */
export function countAuthFailure(metrics: GatewayMetrics, reason: string): void {
  metrics.authFailures.inc({ reason: REASON.test(reason) ? reason : 'other' });
}

// An errno name (ENOSPC, EACCES…); anything else is counted as `other`.
const ERRNO = /^E[A-Z0-9_]{1,31}$/;

/**
 * The audit sink's metrics, registered on a gateway that audits: failed writes (by errno), events
 * lost, rotations, and whether it writes now. `watch` hands over the sink's state, read at scrape time.
 */
export function registerAuditSinkMetrics(metrics: GatewayMetrics): { observer: AuditSinkObserver; watch(healthy: () => boolean): void } {
  const registers = [metrics.registry];
  let healthy = (): boolean => true;
  const failures = new Counter({
    name: 'secrets_gateway_audit_sink_failures_total',
    help: 'Audit writes that failed (each retry counts), by error code: ENOSPC, EACCES, EIO…',
    labelNames: ['code'],
    registers,
  });
  const dropped = new Counter({
    name: 'secrets_gateway_audit_events_dropped_total',
    help: 'Audit events lost: the backlog kept while the sink fails was full, or the sink failed for good.',
    registers,
  });
  const rotations = new Counter({
    name: 'secrets_gateway_audit_rotations_total',
    help: 'New audit files started, by reason: size (audit.rotate.max_bytes) or reopen (SIGHUP).',
    labelNames: ['reason'],
    registers,
  });
  new Gauge({
    name: 'secrets_gateway_audit_sink_up',
    help: '1 while audit events are written; 0 while writes fail (retried; /readyz is 503 and requests are refused unless audit.on_failure: serve).',
    registers,
    collect() {
      this.set(healthy() ? 1 : 0);
    },
  });
  return {
    observer: {
      failure: (code) => failures.inc({ code: ERRNO.test(code) ? code : 'other' }),
      dropped: (n) => dropped.inc(n),
      rotated: (reason) => rotations.inc({ reason }),
    },
    watch(fn) {
      healthy = fn;
    },
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This gateway's metrics: `request.server.metrics` from a hook or handler. */
    metrics: GatewayMetrics;
  }
}
