// Every failure the gateway reports has a stable code, declared once here with its HTTP status
// and title (in the manner of Fastify's lib/errors.js), and is mapped once (http/problems.ts) to an
// RFC 9457 problem response. The README's error table and openapi.yaml's Problem `code` list
// the same codes (test/unit/error-catalog.test.ts). Messages are written for the caller: they
// never contain a secret value, a token or a backend's raw error text, because any of those may
// echo what it was given.

import { http } from './support/node-http.ts';

export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

/** The catalog: every code a problem document can carry. Titles are the status's reason phrase (RFC 9110). */
export const ERRORS = {
  not_found: { status: 404, title: 'Not Found' },
  backend_unavailable: { status: 503, title: 'Service Unavailable' },
  invalid_id: { status: 400, title: 'Bad Request' },
  invalid_request: { status: 400, title: 'Bad Request' },
  request_timeout: { status: 408, title: 'Request Timeout' },
  headers_too_large: { status: 431, title: 'Request Header Fields Too Large' },
  invalid_json: { status: 400, title: 'Bad Request' },
  unauthenticated: { status: 401, title: 'Unauthorized' },
  invalid_token: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  rate_limited: { status: 429, title: 'Too Many Requests' },
  audit_unavailable: { status: 503, title: 'Service Unavailable' },
  auth_unavailable: { status: 503, title: 'Service Unavailable' },
  payload_too_large: { status: 413, title: 'Content Too Large' },
  unsupported_media_type: { status: 415, title: 'Unsupported Media Type' },
  route_not_found: { status: 404, title: 'Not Found' },
  method_not_allowed: { status: 405, title: 'Method Not Allowed' },
  invalid_connection: { status: 400, title: 'Bad Request' },
  not_representable: { status: 400, title: 'Bad Request' },
  ttl_not_supported: { status: 400, title: 'Bad Request' },
  ttl_too_long: { status: 400, title: 'Bad Request' },
  writes_disabled: { status: 409, title: 'Conflict' },
  not_writable: { status: 409, title: 'Conflict' },
  shadowed: { status: 409, title: 'Conflict' },
  precondition_failed: { status: 412, title: 'Precondition Failed' },
  write_failed: { status: 503, title: 'Service Unavailable' },
  internal_error: { status: 500, title: 'Internal Server Error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export interface ProblemExtras {
  [key: string]: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly extras: ProblemExtras;

  /** `status` only for a framework's 4xx that no catalog code names more closely (http/problems.ts); else the catalog's. */
  constructor(code: ErrorCode, message: string, extras: ProblemExtras = {}, status?: number) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    const spec: ErrorSpec = ERRORS[code];
    this.status = status ?? spec.status;
    this.title = status === undefined || status === spec.status ? spec.title : (http.STATUS_CODES[status] ?? 'Error');
    this.extras = extras;
  }
}

/** One constructor per code, taking only the message and the extras: `problem.invalid_request('...')`. */
export const problem = Object.fromEntries(
  Object.keys(ERRORS).map((code) => [code, (message: string, extras?: ProblemExtras) => new GatewayError(code as ErrorCode, message, extras)]),
) as { readonly [C in ErrorCode]: (message: string, extras?: ProblemExtras) => GatewayError };

export const notFound = (what: string): GatewayError => problem.not_found(`${what} was not found in any backend.`);

export const invalidId = (reason: string): GatewayError => problem.invalid_id(reason);

export interface FailedBackend {
  name: string;
  code: string;
}

export const backendUnavailable = (failed: FailedBackend[]): GatewayError =>
  problem.backend_unavailable(
    `Not found in any backend that answered, and ${failed.length === 1 ? 'a backend' : 'some backends'} failed: ${failed.map((f) => f.name).join(', ')}.`,
    { failed_backends: failed },
  );
