// The one place errors become RFC 9457 problem responses. Every response has a
// stable `code`; 5xx responses never carry an internal message.
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, invalidId, problem } from '../errors.ts';
import { newRequestId } from './request-id.ts';

/** The problem document's text. */
function problemJson(error: GatewayError, requestId: string): string {
  return JSON.stringify({
    type: `urn:secrets-gateway:problem:${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    request_id: requestId,
    ...error.extras,
  });
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  // The audit event of a /v1 request names the code it was answered with.
  if (request.access) request.access.problemCode = error.code;
  return reply
    .code(error.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(problemJson(error, request.id));
}

/** Fastify's own client errors, by their code, to ours. */
const FASTIFY_ERRORS: Record<string, (e: FastifyError) => GatewayError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => problem.unsupported_media_type('The request body must be application/json.'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => problem.payload_too_large('The request body is too large.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => problem.invalid_json('The request body is empty.'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => problem.invalid_json('The request body is not valid JSON.'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => problem.invalid_request('The Content-Length does not match the body.'),
};

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as FastifyError;
  if (e?.validation) {
    // Ajv's message names the field and the rule broken, never the value.
    return problem.invalid_request(`The request does not match the API: ${e.validationContext ?? 'request'}${e.validation[0]?.instancePath ?? ''} ${e.validation[0]?.message ?? 'is invalid'}.`);
  }
  const mapped = e?.code ? FASTIFY_ERRORS[e.code] : undefined;
  if (mapped) return mapped(e);
  if (e instanceof SyntaxError && (e as FastifyError).statusCode === 400) return problem.invalid_json('The request body is not valid JSON.');
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new GatewayError('invalid_request', 'The request is not valid.', {}, status);
  return problem.internal_error('An internal error occurred; see the request id in the gateway log.');
}

/** How a failed lookup of one secret counts, in its audit event and its metric: not found, or an error; with its code. */
export function failureOutcome(err: unknown): { outcome: 'not_found' | 'error'; code: string } {
  const { code } = toGatewayError(err);
  return { outcome: code === 'not_found' ? 'not_found' : 'error', code };
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const answer = toGatewayError(err);
    if (answer.status >= 500 && answer.code === 'internal_error') {
      // Name and stack position only: a library's message may quote what it was given.
      request.log.error({ err_name: (err as Error)?.name, err_code: (err as FastifyError)?.code }, 'unhandled error');
    }
    return sendProblem(request, reply, answer);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, problem.route_not_found('No such route. See /docs for the API.')),
  );
}

/**
 * Fastify's `frameworkErrors`: a URL the router cannot decode (`/v1/connections/a%zz`) or a path
 * parameter over the router's limit. No hook has run, so the request id header is set here; the
 * raw path is never echoed (it may hold what a caller meant to keep out of logs).
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const answer =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? invalidId('The id is longer than 250 characters.')
      : problem.invalid_request('The URL is not valid: it has a malformed percent-encoding.');
  request.log.info({ code: answer.code, err_code: error.code }, 'request refused before routing');
  sendProblem(request, reply, answer);
}

/** Node's client errors (raised before or while a request is read), by their code, to ours. */
function clientProblem(code: string | undefined): GatewayError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return problem.request_timeout('The request did not arrive in time (server.request_timeout_seconds, server.headers_timeout_seconds).');
  if (code === 'HPE_HEADER_OVERFLOW') return problem.headers_too_large('The request headers are too large.');
  return problem.invalid_request('The request is not valid HTTP.');
}

/**
 * Fastify's `clientErrorHandler` (Node's 'clientError'): a request cut by a timeout, headers too
 * large, bytes that are not HTTP. The request never reaches a route: it is answered here on the
 * raw socket with a problem document and a new request id (logged, so it can be looked up), and
 * the connection is closed, because the rest of what the client sends cannot be trusted to frame.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = clientProblem(err.code);
  const requestId = newRequestId();
  this.log.info({ request_id: requestId, code: answer.code, err_code: err.code }, 'client error');
  // A response already under way cannot be replaced by another one.
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const body = problemJson(answer, requestId);
    socket.write(
      `HTTP/1.1 ${answer.status} ${answer.title}\r\n` +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\n' +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(err);
}
