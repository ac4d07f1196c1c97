// Per-subject rate limit: a fixed window per subject (issuer + sub), counted in
// memory on each replica. Authenticated /v1 requests only, after the token is
// verified: many Airflow workers share a NAT, and one runaway DAG must not starve
// the rest. Written here rather than taken from @fastify/rate-limit because it is
// ~30 lines and on the path of every request: the plugin's async hook, store and
// key function cost more than the rest of a cached read (bench/optimization-log.md).

export interface RateLimitDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window ends (at least 1): X-RateLimit-Reset and Retry-After. */
  resetSeconds: number;
}

interface Window {
  endsAt: number;
  count: number;
}

export class SubjectRateLimiter {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  private sweepAt = 0;
  /** The limit as a header value, made once. */
  readonly maxHeader: string;

  constructor(max: number, windowMs: number, now: () => number = Date.now) {
    this.max = max;
    this.windowMs = windowMs;
    this.now = now;
    this.maxHeader = String(max);
  }

  /** Counts one request of `subject` and says whether it is within the limit. */
  take(subject: string): RateLimitDecision {
    const now = this.now();
    if (now >= this.sweepAt) this.sweep(now);
    let window = this.windows.get(subject);
    if (window === undefined || now >= window.endsAt) {
      window = { endsAt: now + this.windowMs, count: 0 };
      this.windows.set(subject, window);
    }
    window.count++;
    return {
      allowed: window.count <= this.max,
      remaining: Math.max(0, this.max - window.count),
      resetSeconds: Math.max(1, Math.ceil((window.endsAt - now) / 1000)),
    };
  }

  /** Forgets ended windows, at most once a window, so subjects that went quiet cost no memory. */
  private sweep(now: number): void {
    for (const [subject, window] of this.windows) if (now >= window.endsAt) this.windows.delete(subject);
    this.sweepAt = now + this.windowMs;
  }
}
