// GET /v1/connections/*, /v1/variables/*, /v1/config/* and POST /v1/lookup.
// Handlers are thin: validate the id, ask the resolver, shape the answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectionToApi, connectionToUri, type Connection } from '../airflow/connection.ts';
import type { Resolved } from '../backends/chain.ts';
import type { SecretKind, VariableValue } from '../backends/types.ts';
import { notFound } from '../errors.ts';
import { validateId } from '../ids.ts';
import { ref } from '../openapi.ts';
import { toGatewayError } from '../problems.ts';
import { guardMethods } from './method-guard.ts';
import { permissions } from './permissions.ts';

/** What the routes ask: the backend chain, or the cache in front of it. */
export interface SecretResolver {
  getConnection(connId: string): Promise<Resolved<Connection> | null>;
  getVariable(key: string): Promise<Resolved<VariableValue> | null>;
  getConfig(key: string): Promise<Resolved<VariableValue> | null>;
}

interface WildcardParams {
  '*': string;
}

function secretHeaders(reply: FastifyReply, source: string): void {
  reply.header('cache-control', 'no-store').header('x-secret-source', source);
}

/** Resolves one secret, or throws the error a single request answers with; the outcome goes to the audit event. */
async function resolveOrThrow<T>(request: FastifyRequest, kind: SecretKind, id: string, lookup: (id: string) => Promise<Resolved<T> | null>): Promise<Resolved<T>> {
  try {
    validateId(kind, id);
    const found = await lookup(id);
    if (!found) throw notFound(`${kind === 'config' ? 'Config key' : kind === 'connection' ? 'Connection' : 'Variable'} "${id}"`);
    request.recordOutcome(kind, id, { found: { source: found.source, value: found.value } });
    return found;
  } catch (err) {
    request.recordOutcome(kind, id, { error: err });
    throw err;
  }
}

const READ_ACTION = { connection: 'connections:read', variable: 'variables:read', config: 'config:read' } as const;

type LookupItem<K extends string> = { [P in K]: string } & {
  status: 'found' | 'not_found' | 'error';
  code?: string;
  source?: string;
};

/** One batch item: found, not found, denied, or the error code that any single request would have given. */
async function lookupItem<K extends 'conn_id' | 'key', T, R>(
  request: FastifyRequest,
  idField: K,
  kind: SecretKind,
  id: string,
  lookup: (id: string) => Promise<Resolved<T> | null>,
  shape: (found: Resolved<T>) => R,
): Promise<LookupItem<K> & Partial<R>> {
  const base = { [idField]: id } as { [P in K]: string };
  if (!request.authorize(READ_ACTION[kind], id)) return { ...base, status: 'error', code: 'denied' } as LookupItem<K> & Partial<R>;
  try {
    const found = await resolveOrThrow(request, kind, id, lookup);
    return { ...base, status: 'found', source: found.source, ...shape(found) } as LookupItem<K> & Partial<R>;
  } catch (err) {
    const e = toGatewayError(err);
    return { ...base, status: e.code === 'not_found' ? 'not_found' : 'error', code: e.code } as LookupItem<K> & Partial<R>;
  }
}

export function registerSecretRoutes(app: FastifyInstance, resolver: SecretResolver): void {
  const getConnection = (id: string) => resolver.getConnection(id);
  const getVariable = (id: string) => resolver.getVariable(id);
  const getConfig = (id: string) => resolver.getConfig(id);

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
    async (request, reply) => {
      const id = request.params['*'];
      const found = await resolveOrThrow(request, 'connection', id, getConnection);
      secretHeaders(reply, found.source);
      if (request.query.format === 'uri') {
        // A different body shape from the route's serializer; two fixed string fields.
        reply.serializer(JSON.stringify).type('application/json; charset=utf-8');
        return { conn_id: id, uri: connectionToUri(found.value) };
      }
      return connectionToApi(found.value);
    },
  );
  guardMethods(app, '/v1/connections/*', ['GET']);

  for (const [prefix, kind, lookup, schema, permission] of [
    ['/v1/variables/*', 'variable', getVariable, 'Variable', permissions.readVariable],
    ['/v1/config/*', 'config', getConfig, 'ConfigValue', permissions.readConfig],
  ] as const) {
    app.get<{ Params: WildcardParams }>(prefix, { config: { permission }, schema: { response: { 200: ref(schema) } } }, async (request, reply) => {
      const key = request.params['*'];
      const found = await resolveOrThrow(request, kind, key, lookup);
      secretHeaders(reply, found.source);
      return { key, value: found.value };
    });
    guardMethods(app, prefix, ['GET']);
  }

  app.post<{ Body: { connections?: string[]; variables?: string[]; config?: string[] } }>(
    '/v1/lookup',
    { config: { permission: permissions.batchLookup }, schema: { body: ref('LookupRequest'), response: { 200: ref('LookupResponse') } } },
    async (request, reply) => {
      const body = request.body;
      const [connections, variables, config] = await Promise.all([
        Promise.all((body.connections ?? []).map((id) => lookupItem(request, 'conn_id', 'connection', id, getConnection, (f) => ({ connection: connectionToApi(f.value) })))),
        Promise.all((body.variables ?? []).map((id) => lookupItem(request, 'key', 'variable', id, getVariable, (f) => ({ value: f.value })))),
        Promise.all((body.config ?? []).map((id) => lookupItem(request, 'key', 'config', id, getConfig, (f) => ({ value: f.value })))),
      ]);
      reply.header('cache-control', 'no-store');
      return { connections, variables, config };
    },
  );
  guardMethods(app, '/v1/lookup', ['POST']);
}

