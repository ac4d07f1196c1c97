// GET /v1/connections/*, /v1/variables/*, /v1/config/* and POST /v1/lookup.
// Handlers are thin: validate the id, ask the resolver (the cache in front of the
// chain) with the freshness the client asked for, shape the answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectionToUri, type PackedConnection } from '../airflow/connection.ts';
import { READ_ACTION, type Resolved, type SecretKind } from '../secrets.ts';
import { parseRequestFreshness } from '../cache/freshness.ts';
import type { Answer, CachedValue, CacheInfo, RequestFreshness, SecretResolver } from '../cache/types.ts';
import { GatewayError, notFound, problem } from '../errors.ts';
import { validateId } from './ids.ts';
import { ref } from '../http/openapi.ts';
import { failureOutcome } from '../http/problems.ts';
import { guardMethods } from './method-guard.ts';
import { bodyPermission, permissions, type BodyItem } from '../auth/permissions.ts';

interface WildcardParams {
  '*': string;
}

function secretHeaders(reply: FastifyReply, found: Resolved<unknown>): void {
  reply.header('cache-control', 'no-store').header('x-secret-source', found.source);
  // An ephemeral override (the overlay backend) says when it vanishes.
  if (found.expires) reply.header('x-secret-expires', found.expires);
}

/** Age, X-Cache and X-Secret-Version: how fresh the answer is (on a 404 too: not-found answers are cached). */
function freshnessHeaders(reply: FastifyReply, cache: CacheInfo | undefined): void {
  if (!cache) return;
  reply.header('age', String(cache.ageSeconds)).header('x-cache', cache.state);
  if (cache.fingerprint) reply.header('x-secret-version', cache.fingerprint);
}

/** A handler for a failed step of one secret's lookup (an invalid id, a backend failure): recorded for the audit event, rethrown. */
const failureOf =
  (request: FastifyRequest, kind: SecretKind, id: string) =>
  (err: unknown): never => {
    request.recordOutcome(kind, id, { error: err });
    throw err;
  };

/** Checks the id (400 invalid_id), recording a refusal for the audit event. */
function checkId(request: FastifyRequest, kind: SecretKind, id: string): void {
  try {
    validateId(kind, id);
  } catch (err) {
    failureOf(request, kind, id)(err);
  }
}

/** Resolves one secret, or throws the error a single request answers with; the outcome goes to the audit event. */
async function resolveOrThrow<K extends SecretKind>(resolver: SecretResolver, request: FastifyRequest, kind: K, id: string, freshness: RequestFreshness): Promise<Resolved<CachedValue[K]>> {
  checkId(request, kind, id);
  const answer = await resolver.resolve(kind, id, freshness).catch(failureOf(request, kind, id));
  return foundOrThrow(request, kind, id, answer);
}

/** The answer's value, or the 404 for a not-found answer; recorded for the audit event. */
function foundOrThrow<T>(request: FastifyRequest, kind: SecretKind, id: string, answer: Answer<T>): Resolved<T> {
  const { found } = answer;
  if (!found) return failureOf(request, kind, id)(notFound(`${kind === 'config' ? 'Config key' : kind === 'connection' ? 'Connection' : 'Variable'} "${id}"`));
  request.recordOutcome(kind, id, { found: { source: found.source, value: found.value } });
  return found;
}

/**
 * Answers a single-secret GET: a fresh cache hit synchronously (no promise: the path of almost every
 * request), anything else through the cache's resolve(). `send` shapes the body of a found secret.
 */
function answerSecret<K extends SecretKind>(
  resolver: SecretResolver,
  request: FastifyRequest,
  reply: FastifyReply,
  kind: K,
  id: string,
  send: (found: Resolved<CachedValue[K]>) => unknown,
): unknown {
  checkId(request, kind, id);
  const freshness = requestFreshness(request);
  const respond = (answer: Answer<CachedValue[K]>): unknown => {
    freshnessHeaders(reply, answer.cache);
    const found = foundOrThrow(request, kind, id, answer);
    secretHeaders(reply, found);
    return send(found);
  };
  const hit = resolver.fresh(kind, id, freshness);
  if (hit) return respond(hit);
  return resolver.resolve(kind, id, freshness).then(respond, failureOf(request, kind, id));
}

const requestFreshness = (request: FastifyRequest): RequestFreshness => parseRequestFreshness(request.headers['cache-control']);

type LookupItem<K extends string> = { [P in K]: string } & {
  status: 'found' | 'not_found' | 'error';
  code?: string;
  source?: string;
};

/** One batch item: found, not found, denied, or the error code that any single request would have given. */
async function lookupItem<K extends 'conn_id' | 'key', S extends SecretKind, R>(
  app: FastifyInstance,
  resolver: SecretResolver,
  request: FastifyRequest,
  idField: K,
  kind: S,
  id: string,
  freshness: RequestFreshness,
  shape: (found: Resolved<CachedValue[S]>) => R,
): Promise<LookupItem<K> & Partial<R>> {
  const base = { [idField]: id } as { [P in K]: string };
  if (!request.authorize(READ_ACTION[kind], id)) {
    app.metrics.requests.inc({ kind, outcome: 'denied' });
    return { ...base, status: 'error', code: 'denied' } as LookupItem<K> & Partial<R>;
  }
  try {
    const found = await resolveOrThrow(resolver, request, kind, id, freshness);
    app.metrics.requests.inc({ kind, outcome: 'found' });
    return { ...base, status: 'found', source: found.source, ...shape(found) } as LookupItem<K> & Partial<R>;
  } catch (err) {
    const { outcome, code } = failureOutcome(err);
    app.metrics.requests.inc({ kind, outcome });
    return { ...base, status: outcome, code } as LookupItem<K> & Partial<R>;
  }
}

/**
 * The batch answer as JSON text: a found connection is its API JSON text as the cache keeps it (Python-exact,
 * as a GET sends it, and not re-parsed per item); the other items are plain JSON.
 */
function lookupResponseJson(connections: Array<{ connection?: PackedConnection }>, variables: unknown[], config: unknown[]): string {
  const connectionItem = ({ connection, ...item }: { connection?: PackedConnection }): string =>
    connection ? `${JSON.stringify(item).slice(0, -1)},"connection":${connection.apiJson}}` : JSON.stringify(item);
  return `{"connections":[${connections.map(connectionItem).join(',')}],"variables":${JSON.stringify(variables)},"config":${JSON.stringify(config)}}`;
}

interface LookupBody {
  connections?: string[];
  variables?: string[];
  config?: string[];
}

/** Every id a batch names, each to be decided (and answered `denied` when refused) before the handler runs. */
function lookupItems(body: unknown): BodyItem[] {
  const b = body as LookupBody;
  const items: BodyItem[] = [
    ...(b.connections ?? []).map((id) => ({ action: READ_ACTION.connection, id })),
    ...(b.variables ?? []).map((id) => ({ action: READ_ACTION.variable, id })),
    ...(b.config ?? []).map((id) => ({ action: READ_ACTION.config, id })),
  ];
  if (items.length === 0) throw problem.invalid_request('A lookup names at least one connection, variable or config key.');
  return items;
}

/** What /v1/connections/{conn_id} answers: a read here, a write in routes/writes.ts (POST is the connection test's). */
export const CONNECTION_METHODS = ['GET', 'PUT', 'DELETE'];

export function registerSecretRoutes(app: FastifyInstance, resolver: SecretResolver): void {
  app.get<{ Params: WildcardParams; Querystring: { format: 'json' | 'uri' } }>(
    '/v1/connections/*',
    {
      config: { permission: permissions.readConnection },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { format: { type: 'string', enum: ['json', 'uri'], default: 'json' } },
        },
        response: { 200: ref('Connection') },
      },
    },
    (request, reply) => {
      const id = request.params['*'];
      return answerSecret(resolver, request, reply, 'connection', id, (found) => {
        reply.type('application/json; charset=utf-8');
        if (request.query.format === 'uri') return JSON.stringify({ conn_id: id, uri: connectionToUri(found.value.connection()) });
        // Python-exact JSON (json.dumps of extra as Airflow decoded it): `1.0` stays a float, big integers stay
        // exact and key order is kept, which a JavaScript object would lose on the way to the worker's from_json.
        return found.value.apiJson;
      });
    },
  );
  // POST on this wildcard is POST /v1/connections/{conn_id}/test (routes/connections-test.ts), which answers 405 itself otherwise.
  // A URL ending in /test names both: GET reads the connection "<id>/test", POST tests "<id>".
  guardMethods(app, '/v1/connections/*', CONNECTION_METHODS, { methods: ['POST'], at: (request) => (request.params as WildcardParams)['*'].endsWith('/test') });

  for (const [prefix, kind, schema, permission] of [
    ['/v1/variables/*', 'variable', 'Variable', permissions.readVariable],
    ['/v1/config/*', 'config', 'ConfigValue', permissions.readConfig],
  ] as const) {
    // No query parameters: an unknown one is a 400, as on connections.
    const querystring = { type: 'object', additionalProperties: false, properties: {} };
    app.get<{ Params: WildcardParams }>(prefix, { config: { permission }, schema: { querystring, response: { 200: ref(schema) } } }, (request, reply) => {
      const key = request.params['*'];
      return answerSecret(resolver, request, reply, kind, key, (found) => ({ key, value: found.value }));
    });
    // PUT and DELETE on variables are the write API (routes/writes.ts).
    guardMethods(app, prefix, kind === 'variable' ? ['GET', 'PUT', 'DELETE'] : ['GET']);
  }

  app.post<{ Body: LookupBody }>(
    '/v1/lookup',
    { config: { permission: bodyPermission(lookupItems, { each: true, batch: true }) }, schema: { body: ref('LookupRequest'), response: { 200: ref('LookupResponse') } } },
    async (request, reply) => {
      const body = request.body;
      // The request's Cache-Control applies to every item.
      const fresh = requestFreshness(request);
      const [connections, variables, config] = await Promise.all([
        Promise.all((body.connections ?? []).map((id) => lookupItem(app, resolver, request, 'conn_id', 'connection', id, fresh, (f) => ({ connection: f.value })))),
        Promise.all((body.variables ?? []).map((id) => lookupItem(app, resolver, request, 'key', 'variable', id, fresh, (f) => ({ value: f.value })))),
        Promise.all((body.config ?? []).map((id) => lookupItem(app, resolver, request, 'key', 'config', id, fresh, (f) => ({ value: f.value })))),
      ]);
      reply.header('cache-control', 'no-store').type('application/json; charset=utf-8');
      return lookupResponseJson(connections, variables, config);
    },
  );
  guardMethods(app, '/v1/lookup', ['POST']);
}

