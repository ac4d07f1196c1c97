// What the bench asks of its load process (bench/load-worker.ts), and what it answers.

export interface LoadSpec {
  url: string;
  connections: number;
  /** Measured run length; ignored when `amount` is set. */
  durationSeconds?: number;
  /** A run of this many requests in total instead of a duration (no warm-up). */
  amount?: number;
  /** An unmeasured run first, same options, to warm the JIT and the connections. */
  warmupSeconds?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Paths sent in turn on each connection (default: the url's own path). */
  paths?: string[];
  timeoutSeconds?: number;
  /** The answer that counts as served (default: any 2xx); e.g. 404 for a key that exists nowhere. */
  expectStatus?: number;
  /** Open loop: this many requests per second over all connections (autocannon's overallRate) instead of as fast as answers come. */
  overallRate?: number;
  /** The server under test: the load process reads its CPU time from /proc/<pid>/stat just before and just after the measured run. */
  serverPid?: number;
}

export interface LoadResult {
  connections: number;
  seconds: number;
  requests: number;
  /** Requests sent during the warm-up (not measured, but the server's CPU time covers them). */
  warmupRequests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  /** Expected answers (2xx, or expectStatus) per second. */
  rps: number;
  /** CPU seconds the load process used per second of the run (1.0 = one core busy). */
  loaderCpu: number;
  /** Over expected answers, from every response time (not autocannon's whole-ms histogram). */
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** CPU seconds the server (serverPid) used over the measured run alone, warm-up excluded. */
  serverCpuSecondsMeasured?: number;
}
