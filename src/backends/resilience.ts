// Timeout, bounded retries and a circuit breaker for every network backend, in
// one place (cockatiel's policies). A lookup is:
//
//   breaker → timeout (the whole lookup, retries included) → retry (jittered) → one attempt
//
// so a hanging backend costs at most `timeout_seconds`, a flapping one is retried
// a bounded number of times, and a dead one is not asked at all while its breaker
// is open (requests fail at once with `circuit_open`); after `circuit_breaker_reset_seconds`
// one request is let through as a probe (half-open), and its outcome closes or reopens it.
//
// Only transient failures (unreachable, timeout, throttled, server error) are retried
// and count towards the breaker: an access denied or a value that does not parse is
// an answer about one secret, not about the backend's health.
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  decorrelatedJitterGenerator,
  handleWhen,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import type { Logger } from 'pino';
import { BackendError, type BackendStatus } from './types.ts';

/** Options every network backend takes; their schema (bounds, defaults) is `resilienceOptions` in options-common.ts. */
export interface ResilienceOptions {
  timeout_seconds: number;
  max_retries: number;
  circuit_breaker_failures: number;
  circuit_breaker_reset_seconds: number;
}

export function resilienceFrom(options: Record<string, unknown>): ResilienceOptions {
  return {
    timeout_seconds: Number(options.timeout_seconds ?? 5),
    max_retries: Number(options.max_retries ?? 2),
    circuit_breaker_failures: Number(options.circuit_breaker_failures ?? 5),
    circuit_breaker_reset_seconds: Number(options.circuit_breaker_reset_seconds ?? 10),
  };
}

/** Codes a backend throws for failures of the backend itself rather than of one secret. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['unreachable', 'timeout', 'throttled', 'server_error']);

export const isTransient = (err: unknown): boolean => err instanceof BackendError && TRANSIENT_CODES.has(err.code);

export type CircuitName = 'closed' | 'open' | 'half_open';

const CIRCUIT_NAMES: Record<number, CircuitName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
};

export class BackendGuard {
  private readonly backendName: string;
  private readonly logger: Logger;
  private readonly breaker;
  private readonly policy;
  private readonly timeoutMs: number;
  private lastSuccess: string | undefined;
  private lastError: { code: string; message: string; at: string } | undefined;
  private lastOutcomeFailed = false;

  constructor(backendName: string, options: ResilienceOptions, logger: Logger) {
    this.backendName = backendName;
    this.logger = logger;
    this.timeoutMs = options.timeout_seconds * 1000;
    const transient = handleWhen(isTransient);
    // The deadline's own error (TaskCancelledError) also counts: a backend that hangs is not healthy.
    this.breaker = circuitBreaker(handleWhen((e) => isTransient(e) || e instanceof TaskCancelledError), {
      halfOpenAfter: options.circuit_breaker_reset_seconds * 1000,
      breaker: new ConsecutiveBreaker(options.circuit_breaker_failures),
    });
    const retries = retry(transient, {
      maxAttempts: options.max_retries,
      backoff: new ExponentialBackoff({ generator: decorrelatedJitterGenerator, initialDelay: 50, maxDelay: 1000 }),
    });
    // Aggressive: the caller gets its answer at the deadline even if the attempt ignores the abort signal.
    const deadline = timeout(this.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: true });
    this.policy = wrap(this.breaker, deadline, retries);
    retries.onRetry((e) => this.logger.debug({ backend: backendName, attempt: e.attempt, delay_ms: Math.round(e.delay), err_code: codeOf(e) }, 'retrying a transient backend failure'));
    this.breaker.onBreak(() => this.logger.warn({ backend: backendName }, 'circuit opened: the backend is not asked until the next probe'));
    this.breaker.onHalfOpen(() => this.logger.info({ backend: backendName }, 'circuit half-open: probing the backend'));
    this.breaker.onReset(() => this.logger.info({ backend: backendName }, 'circuit closed: the backend answers again'));
  }

  /** Runs one lookup under the policies. `attempt` gets an AbortSignal that fires at the deadline. */
  async run<T>(attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      const result = await this.policy.execute(({ signal }) => attempt(signal));
      this.lastSuccess = new Date().toISOString();
      this.lastOutcomeFailed = false;
      return result;
    } catch (err) {
      const error = this.toBackendError(err);
      this.lastError = { code: error.code, message: error.message, at: new Date().toISOString() };
      this.lastOutcomeFailed = TRANSIENT_CODES.has(error.code) || error.code === 'circuit_open';
      throw error;
    }
  }

  /** Records a success that did not go through run() (e.g. a login at startup). */
  recordSuccess(): void {
    this.lastSuccess = new Date().toISOString();
    this.lastOutcomeFailed = false;
  }

  circuit(): CircuitName {
    return CIRCUIT_NAMES[this.breaker.state] ?? 'closed';
  }

  /** ready while the circuit is closed and the last lookup did not fail for a transient reason; else degraded. */
  status(): BackendStatus {
    const circuit = this.circuit();
    const unhealthy = circuit !== 'closed' || this.lastOutcomeFailed;
    return {
      state: unhealthy ? 'degraded' : 'ready',
      circuit,
      ...(this.lastSuccess ? { last_success: this.lastSuccess } : {}),
      ...(this.lastError ? { error: this.lastError } : {}),
    };
  }

  private toBackendError(err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    if (err instanceof BrokenCircuitError) {
      return new BackendError('circuit_open', `${this.backendName}: circuit open after repeated failures; the backend is not asked until the next probe`);
    }
    if (err instanceof TaskCancelledError) {
      return new BackendError('timeout', `${this.backendName}: no answer within ${this.timeoutMs / 1000} s`);
    }
    // Never a foreign message: it may echo a request or a response.
    return new BackendError('backend_error', `${this.backendName}: unexpected failure (${(err as Error)?.name ?? typeof err})`);
  }
}

function codeOf(reason: object): string | undefined {
  return 'error' in reason && reason.error instanceof BackendError ? reason.error.code : undefined;
}

/** The error a network failure becomes: unreachable (refused, reset, DNS) or timeout. Never its message. */
export function networkError(backendName: string, err: unknown, signal?: AbortSignal): BackendError {
  if (signal?.aborted) return new BackendError('timeout', `${backendName}: the request was abandoned at the deadline`);
  const code = (err as { code?: unknown; cause?: { code?: unknown } })?.code ?? (err as { cause?: { code?: unknown } })?.cause?.code;
  return new BackendError('unreachable', `${backendName}: cannot reach the backend (${typeof code === 'string' ? code : (err as Error)?.name ?? 'error'})`);
}
