// Step "authenticate" of the request pipeline: the bearer token of a request → its principal
// (subject, grants, Airflow context). Every way of sending a token wrong is an AuthenticationError
// with a stable reason; the token itself never leaves this step.
import type { FastifyRequest } from 'fastify';
import { AuthenticationError } from './reasons.ts';
import type { Principal, TokenVerifier } from './verify.ts';

const TOKEN_PARAMS = new Set(['access_token', 'token', 'id_token', 'jwt', 'bearer', 'authorization']);
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\./;
const BEARER = /^Bearer +([^\s]+) *$/i;

/** The token of an Authorization header value, or null when it is not "Bearer <token>". The usual
 * shape ("Bearer " and printable ASCII) is read without the regex, which costs more on every hit;
 * anything else goes through the regex, so both accept exactly the same headers. */
export function tokenOfHeader(header: string): string | null {
  if (header.startsWith('Bearer ') && header.length > 7) {
    let i = 7;
    for (; i < header.length; i++) {
      const c = header.charCodeAt(i);
      if (c <= 32 || c >= 127) break;
    }
    if (i === header.length) return header.slice(7);
  }
  const m = BEARER.exec(header);
  return m ? m[1]! : null;
}

/** The bearer token of a request; throws an AuthenticationError for every way of sending it wrong. */
export function bearerToken(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown> | undefined;
  // for-in, not Object.entries: a hit has no query, and an empty one then allocates nothing.
  for (const name in query) {
    if (!Object.hasOwn(query, name)) continue;
    const value = query[name];
    const values = Array.isArray(value) ? value : [value];
    if (TOKEN_PARAMS.has(name.toLowerCase()) || values.some((v) => typeof v === 'string' && JWT_LIKE.test(v))) {
      throw new AuthenticationError('token_in_query', 'Tokens are accepted only in the Authorization header, never in the URL (URLs are logged by proxies).');
    }
  }
  let seen = 0;
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') seen++;
  if (seen > 1) throw new AuthenticationError('multiple_authorization', 'Send exactly one Authorization header.');
  const header = request.headers.authorization;
  if (!header) throw new AuthenticationError('missing_token', 'This route needs a bearer token: Authorization: Bearer <JWT>.');
  const token = tokenOfHeader(header);
  if (token === null) throw new AuthenticationError('malformed_token', 'The Authorization header must be "Bearer <JWT>".');
  return token;
}

/**
 * The principal of a request: itself for a token verified before (no promise on the hot path), or
 * the promise of its verification. Throws the AuthenticationError of a token sent wrong.
 */
export function principalOf(request: FastifyRequest, verifier: TokenVerifier): Principal | Promise<Principal> {
  const token = bearerToken(request);
  return verifier.cached(token) ?? verifier.verify(request, token);
}

/**
 * The principal of a request, through `then` (synchronously for a token verified before) or `fail`
 * with the AuthenticationError; any other error goes to `crash`.
 */
export function authenticate(
  request: FastifyRequest,
  verifier: TokenVerifier,
  then: (principal: Principal) => void,
  fail: (err: AuthenticationError) => void,
  crash: (err: Error) => void,
): void {
  let found: Principal | Promise<Principal>;
  try {
    found = principalOf(request, verifier);
  } catch (err) {
    return fail(err as AuthenticationError);
  }
  if (!(found instanceof Promise)) return then(found);
  found.then(then, (err: unknown) => (err instanceof AuthenticationError ? fail(err) : crash(err as Error)));
}
