// The bearer token of a request, read as strictly as a secrets service must: one Authorization
// header, the Bearer scheme, and never a token in the URL (proxies log URLs). Used by the
// pipeline's authenticate step and by @fastify/jwt's extractToken (verify.ts).
import type { FastifyRequest } from 'fastify';
import { AuthenticationError } from './reasons.ts';

const TOKEN_PARAMS = new Set(['access_token', 'token', 'id_token', 'jwt', 'bearer', 'authorization']);
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\./;

/** The bearer token of a request; throws an AuthenticationError for every way of sending it wrong. */
export function bearerToken(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(query ?? {})) {
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
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m) throw new AuthenticationError('malformed_token', 'The Authorization header must be "Bearer <JWT>".');
  return m[1]!;
}
