// Step "audit" of the request pipeline: every /v1 request becomes at least one audit event, one
// per decision the pipeline recorded (each with what then happened), or one for a request refused
// before any decision (authentication, rate limit, a fail-closed guard, a malformed body). Nothing
// that reaches /v1 goes unaudited. Built here, from what the other steps recorded.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AIRFLOW_FIELDS, type AirflowContext } from '../auth/verify.ts';
import { isoNow } from '../support/iso-time.ts';
import { failureOutcome } from '../http/problems.ts';
import type { Action, SecretKind } from '../secrets.ts';
import type { AuditEvent, AuditItem, Fingerprinter } from './events.ts';
import type { AuditSink } from './sink.ts';

/** What a route reports about one secret it looked up. */
export type ItemResult = { found: { source: string; value: unknown } } | { error: unknown };

const AIRFLOW_HEADERS: Record<(typeof AIRFLOW_FIELDS)[number], string> = {
  dag_id: 'x-airflow-dag-id',
  task_id: 'x-airflow-task-id',
  run_id: 'x-airflow-run-id',
  try_number: 'x-airflow-try-number',
  team: 'x-airflow-team',
};

/** Airflow context sent as headers: recorded, but marked unverified (any caller can send them). */
function airflowFromHeaders(request: FastifyRequest): AirflowContext | null {
  const ctx: AirflowContext = { verified: false };
  let any = false;
  for (const f of AIRFLOW_FIELDS) {
    const v = request.headers[AIRFLOW_HEADERS[f]];
    if (typeof v === 'string' && v.length > 0) {
      ctx[f] = v.slice(0, 250);
      any = true;
    }
  }
  return any ? ctx : null;
}

/** Records what happened to one secret a route looked up, on the decision that allowed it. */
export function recordOutcome(request: FastifyRequest, fingerprint: Fingerprinter, kind: SecretKind, id: string, result: ItemResult): void {
  const item = request.access?.items.find((i) => i.kind === kind && i.id === id && i.outcome === undefined);
  if (!item) return;
  if ('found' in result) {
    item.outcome = 'found';
    item.backend = result.found.source;
    item.fingerprint = fingerprint.of(result.found.value);
  } else {
    Object.assign(item, failureOutcome(result.error));
  }
}

/** Records a write's target and the fingerprints of the value before and after it, on the decision that allowed it. */
export function recordWrite(
  request: FastifyRequest,
  fingerprint: Fingerprinter,
  kind: SecretKind,
  id: string,
  write: { backend: string; before?: unknown; after?: unknown; done?: boolean },
): void {
  const item = request.access?.items.find((i) => i.kind === kind && i.id === id && i.action?.endsWith(':write') && i.decision !== 'deny');
  if (!item) return;
  item.backend = write.backend;
  item.old_fingerprint = write.before === undefined ? null : fingerprint.of(write.before);
  if (write.done) {
    item.new_fingerprint = write.after === undefined ? null : fingerprint.of(write.after);
    item.outcome = 'found';
  }
}

/** Records an invalidation's effect on the decision that allowed it. */
export function recordInvalidation(request: FastifyRequest, invalidated: number, fanout: string): void {
  for (const item of request.access?.items ?? []) {
    if (item.action === 'cache:invalidate' && item.decision !== 'deny') Object.assign(item, { outcome: 'found', invalidated, fanout } satisfies Partial<AuditItem>);
  }
}

/** Writes the request's audit events (onResponse), in the lean shape AuditEvent documents.
 * `routeImplied`: the route's permission names its action by the path (one route per such action). */
export function writeAccessEvents(sink: AuditSink, request: FastifyRequest, reply: FastifyReply, action: Action | null, pathId: string | null, routeImplied: boolean): void {
  const access = request.access;
  if (!access) return;
  const p = access.principal;
  const status = reply.statusCode;
  const airflow = p?.airflow ?? airflowFromHeaders(request);
  const base = (itemAction: string | null): AuditEvent => {
    const event: AuditEvent = { type: 'access', time: isoNow(), request_id: request.id, action: itemAction, client: request.ip, subject: p?.subject ?? null, status, latency_ms: Math.round(reply.elapsedTime * 100) / 100, decision: 'allow' };
    if (request.method !== 'GET') event.method = request.method;
    if (!routeImplied || itemAction !== action) event.route = access.route;
    if (p?.issuer) event.issuer = p.issuer;
    if (airflow) event.airflow = airflow;
    return event;
  };
  const fallback = (): Pick<AuditItem, 'outcome' | 'code'> =>
    status === 404 ? { outcome: 'not_found', code: access.problemCode ?? 'not_found' } : status >= 400 ? { outcome: 'error', code: access.problemCode ?? 'error' } : { outcome: 'found' };
  if (access.items.length === 0) {
    // Refused, or failed, before anything was decided: still one event.
    const event = base(action);
    if (!action) event.route = access.route;
    if (pathId !== null) event.id = pathId;
    event.decision = access.refusal ? 'deny' : 'allow';
    Object.assign(event, access.refusal ? { reason: access.refusal.reason, outcome: 'denied', code: access.problemCode } : fallback());
    sink.write(event);
    return;
  }
  for (const item of access.items) {
    const { kind: _derived, id, action: itemAction, ...rest } = item;
    const event = Object.assign(base(itemAction), rest, item.outcome ? {} : fallback());
    if (id !== null) event.id = id;
    sink.write(event);
  }
}
