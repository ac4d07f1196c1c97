// Every failure the gateway reports has a stable code and an HTTP status, and is
// mapped once (in app.ts) to an RFC 9457 problem response. Messages are written
// for the caller: they never contain a secret value, a token or a backend's raw
// error text, because any of those may echo what it was given.

export interface ProblemExtras {
  [key: string]: unknown;
}

export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  readonly extras: ProblemExtras;

  constructor(code: string, status: number, message: string, extras: ProblemExtras = {}) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.extras = extras;
  }
}

export const notFound = (what: string): GatewayError => new GatewayError('not_found', 404, `${what} was not found in any backend.`);

export const invalidId = (reason: string): GatewayError => new GatewayError('invalid_id', 400, reason);

export interface FailedBackend {
  name: string;
  code: string;
}

export const backendUnavailable = (failed: FailedBackend[]): GatewayError =>
  new GatewayError(
    'backend_unavailable',
    503,
    `Not found in any backend that answered, and ${failed.length === 1 ? 'a backend' : 'some backends'} failed: ${failed.map((f) => f.name).join(', ')}.`,
    { failed_backends: failed },
  );
