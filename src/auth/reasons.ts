// Why a request was refused: a small, stable set, used in audit events and
// meant as the `reason` label of secrets_gateway_auth_failures_total.
// Adding a reason is a change to the API; renaming one breaks dashboards.

/** Authentication failures: answered 401 (or 503 for jwks_unavailable). */
export const AUTHENTICATION_FAILURES = [
  'missing_token',
  'malformed_token',
  'token_too_large',
  'token_in_query',
  'multiple_authorization',
  'alg_not_allowed',
  'unknown_kid',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_audience',
  'wrong_issuer',
  'missing_claim',
  'token_lifetime_too_long',
  'jwks_unavailable',
] as const;

/** Authorization failures: answered 403 (or a `denied` batch item). */
export const AUTHORIZATION_FAILURES = ['no_grant', 'denied_by_policy', 'unsafe_id', 'undeclared_route', 'undeclared_decision'] as const;

export const AUTH_FAILURE_REASONS = [...AUTHENTICATION_FAILURES, ...AUTHORIZATION_FAILURES] as const;

export type AuthenticationFailure = (typeof AUTHENTICATION_FAILURES)[number];
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** Thrown by token verification; carries only a reason, never the token. */
export class AuthenticationError extends Error {
  readonly reason: AuthenticationFailure;
  constructor(reason: AuthenticationFailure, message: string) {
    super(message);
    this.name = 'AuthenticationError';
    this.reason = reason;
  }
}
