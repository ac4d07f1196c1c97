// POST /v1/connections/{conn_id}/test: resolve a connection and check its target
// (connection-checks/check.ts). Connection ids may contain "/", so the route is the same
// wildcard as GET /v1/connections/*, and only ids ending in "/test" are tests; any
// other POST there is 405 (GET is the method for a connection).
import type { FastifyInstance } from 'fastify';
import { checkConnection } from '../connection-checks/check.ts';
import { notFound, problem } from '../errors.ts';
import { validateId } from './ids.ts';
import { ref } from '../http/openapi.ts';
import { sendProblem } from '../http/problems.ts';
import { permissions } from '../auth/permissions.ts';
import { withHead } from './method-guard.ts';
import { CONNECTION_METHODS } from './secrets.ts';
import type { Connection } from '../airflow/connection.ts';

const TEST_SUFFIX = '/test';

/** `lookup` resolves a connection as any caller's read would (through the cache); null when not found. */
export function registerConnectionTestRoute(app: FastifyInstance, lookup: (connId: string) => Promise<{ value: Connection } | null>, timeoutMs: number): void {
  app.post<{ Params: { '*': string } }>(
    '/v1/connections/*',
    { config: { permission: permissions.testConnection }, schema: { response: { 200: ref('ConnectionTest') } } },
    async (request, reply) => {
      const path = request.params['*'];
      if (!path.endsWith(TEST_SUFFIX)) {
        reply.header('allow', withHead(CONNECTION_METHODS).join(', '));
        return sendProblem(request, reply, problem.method_not_allowed('POST is allowed only on /v1/connections/{conn_id}/test; use GET to read a connection, PUT or DELETE to change it.'));
      }
      const connId = path.slice(0, -TEST_SUFFIX.length);
      validateId('connection', connId);
      const found = await lookup(connId);
      if (!found) throw notFound(`Connection "${connId}"`);
      reply.header('cache-control', 'no-store');
      return checkConnection(found.value, timeoutMs);
    },
  );
}
