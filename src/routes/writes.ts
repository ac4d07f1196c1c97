// The write API: PUT and DELETE /v1/connections/* and /v1/variables/*, and GET .../resolution.
// A write goes to the one backend named in writes.target, in the format that backend's Airflow
// reader reads, after the same Airflow model as reads has validated it; the version a client saw
// (X-Secret-Version, the HMAC of the value as the target reads it) makes it conditional
// (If-Match, If-None-Match: *). Then the cache drops the id here and on every replica.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConnectionFormatError, connectionFromFields, type Connection } from '../airflow/connection.ts';
import { pyJsonLoads, pythonJsonDumps } from '../airflow/python-json.ts';
import type { BackendChain } from '../backends/chain.ts';
import { BackendError, backendErrorCode, type Current, type SecretsBackend, type SecretWriter, type WriteValue } from '../backends/types.ts';
import type { RedisInvalidationBus } from '../cache/redis-bus.ts';
import type { SecretCache } from '../cache/secret-cache.ts';
import { GatewayError, notFound, problem } from '../errors.ts';
import { validateId } from './ids.ts';
import { ref } from '../http/openapi.ts';
import { permissions } from '../auth/permissions.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { WritableKind } from '../secrets.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The writes target of a write route, for the audit events of refused writes. */
    writeTarget?: string;
  }
  interface FastifyRequest {
    /** Reports a write's target and the fingerprints before and after it (for the audit event; never a value). */
    recordWrite(kind: WritableKind, id: string, write: { backend: string; before?: unknown; after?: unknown; done?: boolean }): void;
  }
}

export interface WriteDeps {
  chain: BackendChain;
  cache: SecretCache;
  bus: RedisInvalidationBus | undefined;
  /** The writes.target backend; undefined: writes are off (409 writes_disabled). */
  target: (SecretsBackend & SecretWriter) | undefined;
  metrics: GatewayMetrics;
}

interface WildcardParams {
  '*': string;
}
interface WriteQuery {
  ttl_seconds?: string;
  allow_shadowed?: 'true' | 'false';
}
type ConnectionBody = Record<string, unknown>;
interface VariableBody {
  value: string;
}

const ID_FIELD = { connection: 'conn_id', variable: 'key' } as const;
const WRITE_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ttl_seconds: { type: 'string', pattern: '^[1-9][0-9]{0,8}$' },
    allow_shadowed: { type: 'string', enum: ['true', 'false'] },
  },
} as const;

/** A connection from the write body, through Airflow's own constructor (as every backend's value is read). */
function connectionOf(connId: string, body: ConnectionBody): Connection {
  const fields = { ...body };
  // extra may come as the JSON text Airflow stores or as the object it stands for.
  if (fields.extra !== undefined && fields.extra !== null && typeof fields.extra !== 'string') fields.extra = pythonJsonDumps(fields.extra);
  let conn: Connection;
  try {
    conn = connectionFromFields(connId, fields);
  } catch (err) {
    if (err instanceof ConnectionFormatError) throw problem.invalid_connection(err.message, { reason: err.code });
    throw err;
  }
  // Every target stores Airflow's connection JSON, whose extra is an object: anything else would not read back equal.
  if (conn.extra !== null && conn.extra !== '') {
    let parsed: unknown;
    try {
      parsed = pyJsonLoads(conn.extra);
    } catch {
      parsed = undefined;
    }
    if (!(parsed instanceof Map)) throw problem.invalid_connection('extra must be a JSON object (as text or as an object).', { reason: 'invalid_extra' });
  }
  return conn;
}

/** The entity tag a header names, without quotes or a weak prefix. */
const tagOf = (raw: string): string => raw.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

export function registerWriteRoutes(app: FastifyInstance, deps: WriteDeps): void {
  const { chain, cache, bus, target, metrics } = deps;

  /** The version a client sees for a value stored at the target: X-Secret-Version of a GET it wins. */
  const versionOf = (kind: WritableKind, id: string, value: unknown): string => cache.fingerprint(kind, id, value);

  function writable(kind: WritableKind, id: string): SecretsBackend & SecretWriter {
    if (!target) throw problem.writes_disabled('This gateway takes no writes: configure writes.target (a backend with writable: true).');
    const link = chain.links.find((l) => l.backend === target)!;
    if (!target.serves(kind) || !link.patterns[kind](id)) {
      throw problem.not_writable(`The writes target "${target.name}" does not serve this ${kind} id (its kinds or lookup pattern).`, { backend: target.name });
    }
    return target;
  }

  /** If-Match and If-None-Match against what the target holds now. */
  function checkPreconditions(request: FastifyRequest, kind: WritableKind, id: string, current: Current | null): void {
    const ifMatch = request.headers['if-match'];
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch.trim() !== '*') throw problem.invalid_request('If-None-Match takes only "*" here (create only).');
      if (current) throw problem.precondition_failed(`The ${kind} exists already (If-None-Match: *).`);
    }
    if (ifMatch !== undefined) {
      const tags = ifMatch.split(',').map(tagOf);
      const version = current ? versionOf(kind, id, current.value) : undefined;
      if (!version || !(tags.includes('*') || tags.includes(version))) {
        throw problem.precondition_failed(`The ${kind} ${current ? 'has changed since that version' : 'does not exist'} (If-Match).`, version ? { current_version: version } : {});
      }
    }
  }

  /** Fails with 409 shadowed when an earlier backend holds the id, unless the caller accepts it. */
  async function checkShadowing(request: FastifyRequest<{ Querystring: WriteQuery }>, kind: WritableKind, id: string, writer: SecretsBackend): Promise<void> {
    if (request.query.allow_shadowed === 'true') return;
    const shadow = await chain.shadowing(kind, id, writer.name);
    if (shadow) {
      throw problem.shadowed(`"${shadow}" comes before "${writer.name}" in the chain and holds this ${kind}: a write there would not be served. Add ?allow_shadowed=true to write anyway.`, { backend: shadow, target: writer.name });
    }
  }

  /** The time-to-live a write asks for: only an expiring target (the overlay) takes one, up to its maximum. */
  function ttlOf(request: FastifyRequest<{ Querystring: WriteQuery }>, writer: SecretWriter & SecretsBackend): number | undefined {
    const asked = request.query.ttl_seconds;
    if (asked === undefined) return undefined;
    if (writer.maxTtlSeconds === undefined) throw problem.ttl_not_supported(`The writes target "${writer.name}" keeps entries until they are deleted: it takes no ttl_seconds.`);
    const ttl = Number(asked);
    if (ttl > writer.maxTtlSeconds) throw problem.ttl_too_long(`ttl_seconds is at most ${writer.maxTtlSeconds} here.`, { max_ttl_seconds: writer.maxTtlSeconds });
    return ttl;
  }

  /** A backend's failure to write: 412 for a change made in between, 503 otherwise (by code, never its message). */
  function writeFailure(writer: SecretsBackend, err: unknown): never {
    if (err instanceof BackendError && err.code === 'precondition_failed') throw problem.precondition_failed('The secret changed while it was being written; read it again and retry.');
    if (err instanceof BackendError && err.code === 'not_representable') throw problem.not_representable(err.message, { backend: writer.name });
    if (err instanceof GatewayError) throw err;
    const code = backendErrorCode(err);
    throw problem.write_failed(`The writes target "${writer.name}" failed (${code}); nothing was changed by this request unless a read shows it.`, { backend: writer.name, backend_code: code });
  }

  /** Drops the id here, tells the other replicas, and says whether that reached them. */
  async function fanOut(kind: WritableKind, id: string): Promise<string> {
    cache.invalidate({ kind, id }, 'write');
    return !bus ? 'not_configured' : (await bus.publish({ kind, id })) ? 'published' : 'unavailable';
  }

  async function put(request: FastifyRequest<{ Params: WildcardParams; Querystring: WriteQuery }>, reply: FastifyReply, kind: WritableKind, value: (id: string) => WriteValue) {
    const id = request.params['*'];
    validateId(kind, id);
    const writer = writable(kind, id);
    const ttlSeconds = ttlOf(request, writer);
    const stored = value(id);
    let outcome = 'error';
    try {
      await checkShadowing(request, kind, id, writer);
      const current = await writer.current(kind, id).catch((err) => writeFailure(writer, err));
      request.recordWrite(kind, id, { backend: writer.name, before: current?.value });
      checkPreconditions(request, kind, id, current);
      await writer.put(kind, id, stored, { cas: current ? current.cas : null, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) }).catch((err) => writeFailure(writer, err));
      // Read back through the target's own Airflow reader: the version is that of what GET will serve.
      const after = await writer.current(kind, id).catch((err) => writeFailure(writer, err));
      if (!after) throw problem.write_failed(`The writes target "${writer.name}" does not read back what was written.`, { backend: writer.name, backend_code: 'not_read_back' });
      request.recordWrite(kind, id, { backend: writer.name, before: current?.value, after: after.value, done: true });
      const fanout = await fanOut(kind, id);
      const version = versionOf(kind, id, after.value);
      outcome = 'written';
      reply.code(current ? 200 : 201).header('cache-control', 'no-store').header('etag', `"${version}"`).header('x-secret-version', version).header('x-secret-source', writer.name);
      if (after.expires) reply.header('x-secret-expires', after.expires);
      request.log.info({ kind, id, backend: writer.name, created: !current, fanout }, 'secret written');
      return { [ID_FIELD[kind]]: id, backend: writer.name, version, created: !current, fanout, ...(after.expires ? { expires: after.expires } : {}) };
    } catch (err) {
      if (err instanceof GatewayError && (err.code === 'precondition_failed' || err.code === 'shadowed')) outcome = err.code;
      throw err;
    } finally {
      metrics.writes.inc({ kind, operation: 'put', outcome });
    }
  }

  async function remove(request: FastifyRequest<{ Params: WildcardParams }>, reply: FastifyReply, kind: WritableKind) {
    const id = request.params['*'];
    validateId(kind, id);
    const writer = writable(kind, id);
    let outcome = 'error';
    try {
      const current = await writer.current(kind, id).catch((err) => writeFailure(writer, err));
      request.recordWrite(kind, id, { backend: writer.name, before: current?.value });
      if (!current) {
        outcome = 'not_found';
        throw notFound(`${kind === 'connection' ? 'Connection' : 'Variable'} "${id}" in the writes target "${writer.name}"`);
      }
      checkPreconditions(request, kind, id, current);
      const deleted = await writer.delete(kind, id, { cas: current.cas }).catch((err) => writeFailure(writer, err));
      request.recordWrite(kind, id, { backend: writer.name, before: current.value, done: true });
      const fanout = await fanOut(kind, id);
      outcome = deleted ? 'deleted' : 'not_found';
      reply.header('cache-control', 'no-store');
      request.log.info({ kind, id, backend: writer.name, fanout }, 'secret deleted');
      return { [ID_FIELD[kind]]: id, backend: writer.name, deleted, fanout };
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'precondition_failed') outcome = err.code;
      throw err;
    } finally {
      metrics.writes.inc({ kind, operation: 'delete', outcome });
    }
  }

  const audited = target ? { writeTarget: target.name } : {};
  const putSchema = (body: string, result: string) => ({ querystring: WRITE_QUERY, body: ref(body), response: { 200: ref(result), 201: ref(result) } });

  app.put<{ Params: WildcardParams; Querystring: WriteQuery; Body: ConnectionBody }>(
    '/v1/connections/*',
    { config: { permission: permissions.writeConnection, ...audited }, schema: putSchema('ConnectionWrite', 'WriteResult') },
    (request, reply) => put(request, reply, 'connection', (id) => ({ kind: 'connection', connection: connectionOf(id, request.body) })),
  );
  app.put<{ Params: WildcardParams; Querystring: WriteQuery; Body: VariableBody }>(
    '/v1/variables/*',
    { config: { permission: permissions.writeVariable, ...audited }, schema: putSchema('VariableWrite', 'WriteResult') },
    (request, reply) => put(request, reply, 'variable', () => ({ kind: 'variable', value: request.body.value })),
  );
  for (const [prefix, kind, permission] of [
    ['/v1/connections/*', 'connection', permissions.writeConnection],
    ['/v1/variables/*', 'variable', permissions.writeVariable],
  ] as const) {
    app.delete<{ Params: WildcardParams }>(prefix, { config: { permission, ...audited }, schema: { response: { 200: ref('DeleteResult') } } }, (request, reply) => remove(request, reply, kind));
  }

  // GET .../resolution: the same wildcard as the reads, told apart by its suffix (a route constraint),
  // so that the permission (backends:read) is declared on the route like every other.
  for (const [prefix, kind] of [
    ['/v1/connections/*', 'connection'],
    ['/v1/variables/*', 'variable'],
  ] as const) {
    app.get<{ Params: WildcardParams }>(
      prefix,
      { constraints: { suffix: RESOLUTION }, config: { permission: permissions.resolution }, schema: { response: { 200: ref('Resolution') } } },
      async (request, reply) => {
        const id = request.params['*'].slice(0, -RESOLUTION.length);
        validateId(kind, id);
        const steps = await chain.explain(kind, id, (value) => versionOf(kind, id, value));
        reply.header('cache-control', 'no-store');
        const winner = steps.find((s) => s.wins)?.backend ?? null;
        const shadowed = winner ? steps.filter((s) => s.answer === 'found' && !s.wins).map((s) => s.backend) : [];
        return { kind, id, winner, shadowed, writes_target: target?.name ?? null, backends: steps };
      },
    );
  }
}

const RESOLUTION = '/resolution';

/** A route constraint on the path's ending, so `GET /v1/connections/{id}/resolution` has its own route (and permission). */
export function registerSuffixConstraint(app: FastifyInstance): void {
  app.addConstraintStrategy({
    name: 'suffix',
    storage() {
      const handlers = new Map<string, unknown>();
      return { get: (value: string) => (handlers.get(value) ?? null) as never, set: (value: string, store: unknown) => void handlers.set(value, store) };
    },
    deriveConstraint(req: { url?: string }) {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      return (q < 0 ? url : url.slice(0, q)).endsWith(RESOLUTION) ? RESOLUTION : undefined;
    },
    mustMatchWhenDerived: false,
  } as never);
}
