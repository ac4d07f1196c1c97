// Checks responses against openapi.yaml: every route the app registers is in the
// spec, and every response a test sees validates against the spec's schema for
// that path, method and status.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from '../../src/http/openapi.ts';

const doc = openApiDocument();
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'openapi', components: doc.components } as never);

/** `/v1/connections/*` → `/v1/connections/{conn_id}`: a Fastify wildcard is the spec's last path parameter,
 * or a parameter and a literal suffix that the request URL ends with (POST `/v1/connections/{conn_id}/test`). */
export function specPathFor(routeUrl: string, method?: string, url?: string): string | undefined {
  if (doc.paths[routeUrl]) return routeUrl;
  if (!routeUrl.endsWith('/*')) return undefined;
  const prefix = routeUrl.slice(0, -1);
  const candidates = Object.keys(doc.paths).filter((p) => p.startsWith(prefix) && /^\{[^}/]+\}(\/[^{}]+)?$/.test(p.slice(prefix.length)));
  const path = (url ?? '').split('?')[0]!;
  const suffixed = candidates.find((p) => {
    const suffix = p.slice(prefix.length).replace(/^\{[^}]+\}/, '');
    return suffix !== '' && path.endsWith(suffix) && (!method || doc.paths[p]?.[method.toLowerCase()]);
  });
  return suffixed ?? candidates.find((p) => /^\{[^}]+\}$/.test(p.slice(prefix.length)));
}

type Operation = { responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }> };

function responseSpec(path: string, method: string, status: number) {
  const op = doc.paths[path]?.[method.toLowerCase()] as Operation | undefined;
  if (!op) return undefined;
  let response = op.responses[String(status)];
  if (response?.$ref) {
    const name = response.$ref.split('/').pop()!;
    response = (doc.components.responses as Record<string, typeof response>)[name];
  }
  return response;
}

function rewrite(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? `openapi${v}` : rewrite(v)]));
}

/** Returns the problems with one response, or [] when it matches the spec. */
export function checkResponse(method: string, routeUrl: string, status: number, contentType: string | undefined, body: string, url?: string): string[] {
  const path = specPathFor(routeUrl, method === 'HEAD' ? 'GET' : method, url);
  if (!path) return [`${method} ${routeUrl}: route is not in openapi.yaml`];
  let spec = responseSpec(path, method === 'HEAD' ? 'GET' : method, status);
  // A 405 answers a method the path does not have, so no operation documents it: it must still be a Problem.
  if (!spec && status === 405) spec = (doc.components.responses as Record<string, typeof spec>).MethodNotAllowed;
  if (!spec) return [`${method} ${path}: status ${status} is not documented`];
  if (method === 'HEAD' || !spec.content) return [];
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  const media = spec.content[mediaType];
  if (!media) return [`${method} ${path} ${status}: content type "${mediaType}" is not documented`];
  if (mediaType.endsWith('json')) {
    const validate = ajv.compile(rewrite(media.schema) as object);
    if (!validate(JSON.parse(body))) return [`${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`];
  }
  return [];
}

/** Adds a hook that checks every response the app sends; returns the list that collects problems. */
export function recordContractViolations(app: FastifyInstance): string[] {
  const problems: string[] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    // Routes outside the API itself (Swagger UI's static assets) are documented as /docs only.
    if (route && !route.startsWith('/docs') && typeof payload === 'string') {
      problems.push(...checkResponse(request.method, route, reply.statusCode, String(reply.getHeader('content-type') ?? ''), payload, request.url));
    }
    return payload;
  });
  return problems;
}
