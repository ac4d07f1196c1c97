// Step "authenticate" of the request pipeline: the bearer token of a request → its principal
// (subject, grants, Airflow context). Every way of sending a token wrong is an AuthenticationError
// with a stable reason; the token itself never leaves this step.
import type { FastifyRequest } from 'fastify';
import { bearerToken } from './bearer-token.ts';
import { AuthenticationError } from './reasons.ts';
import type { Principal, TokenVerifier } from './verify.ts';

/**
 * The principal of a request, through `then` (synchronously for a token verified before: no
 * promise on the hot path) or `fail` with the AuthenticationError; any other error goes to `crash`.
 */
export function authenticate(
  request: FastifyRequest,
  verifier: TokenVerifier,
  then: (principal: Principal) => void,
  fail: (err: AuthenticationError) => void,
  crash: (err: Error) => void,
): void {
  let token: string;
  try {
    token = bearerToken(request);
  } catch (err) {
    return fail(err as AuthenticationError);
  }
  const known = verifier.cached(token);
  if (known) return then(known);
  verifier.verify(request, token).then(then, (err: unknown) => (err instanceof AuthenticationError ? fail(err) : crash(err as Error)));
}
