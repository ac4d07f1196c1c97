// The one place errors become RFC 9457 problem responses. Every response has a
// stable `code`; 5xx responses never carry an internal message.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from './errors.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  // The audit event of a /v1 request names the code it was answered with.
  if (request.access) request.access.problemCode = error.code;
  return reply
    .code(error.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      JSON.stringify({
        type: `urn:secrets-gateway:problem:${error.code}`,
        title: TITLES[error.status] ?? 'Error',
        status: error.status,
        detail: error.message,
        code: error.code,
        request_id: request.id,
        ...error.extras,
      }),
    );
}

/** Fastify's own client errors, by their code, to ours. */
const FASTIFY_ERRORS: Record<string, (e: FastifyError) => GatewayError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new GatewayError('unsupported_media_type', 415, 'The request body must be application/json.'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new GatewayError('payload_too_large', 413, 'The request body is too large.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new GatewayError('invalid_json', 400, 'The request body is empty.'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new GatewayError('invalid_json', 400, 'The request body is not valid JSON.'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new GatewayError('invalid_request', 400, 'The Content-Length does not match the body.'),
};

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as FastifyError;
  if (e?.validation) {
    // Ajv's message names the field and the rule broken, never the value.
    return new GatewayError('invalid_request', 400, `The request does not match the API: ${e.validationContext ?? 'request'}${e.validation[0]?.instancePath ?? ''} ${e.validation[0]?.message ?? 'is invalid'}.`);
  }
  const mapped = e?.code ? FASTIFY_ERRORS[e.code] : undefined;
  if (mapped) return mapped(e);
  if (e instanceof SyntaxError && (e as FastifyError).statusCode === 400) return new GatewayError('invalid_json', 400, 'The request body is not valid JSON.');
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new GatewayError('invalid_request', status, 'The request is not valid.');
  return new GatewayError('internal_error', 500, 'An internal error occurred; see the request id in the gateway log.');
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const problem = toGatewayError(err);
    if (problem.status >= 500 && problem.code === 'internal_error') {
      // Name and stack position only: a library's message may quote what it was given.
      request.log.error({ err_name: (err as Error)?.name, err_code: (err as FastifyError)?.code }, 'unhandled error');
    }
    return sendProblem(request, reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new GatewayError('route_not_found', 404, 'No such route. See /docs for the API.')),
  );
}
