// The audit event: one per access decision and its outcome. It names who asked
// (verified subject and issuer, client address, Airflow context), what for
// (action, kind, id), what was decided and what happened, and a keyed
// fingerprint of the value served — never the value, the token or a password.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { AirflowContext } from '../auth/verify.ts';
import { flatString } from '../support/flat-string.ts';

export type { Outcome } from '../secrets.ts';
import type { Outcome } from '../secrets.ts';
export type DecisionName = 'allow' | 'deny' | 'would_deny';

/** One decision about one secret (or about the whole request, when it was refused before any). */
export interface AuditItem {
  action: string | null;
  kind: string | null;
  id: string | null;
  /** What an invalidation by glob asked for (`*` for all); id is null then. */
  glob?: string;
  decision: DecisionName;
  /** Why it was denied (or would be): an AuthFailureReason. */
  reason?: string;
  outcome?: Outcome;
  /** The error code, for outcome `error` (and `not_found`). */
  code?: string;
  /** The backend that served it. */
  backend?: string;
  fingerprint?: string;
  /** Cache invalidation: the entries dropped on this replica, and whether the other replicas were told. */
  invalidated?: number;
  fanout?: string;
  /** A write: the fingerprints of the target's value before and after it (null: none there). `backend` is the target. */
  old_fingerprint?: string | null;
  new_fingerprint?: string | null;
}

/**
 * One access event as written: lean, so a busy replica's log stays small (bytes per event in
 * bench/RESULTS.md). Nothing an auditor can derive is repeated, and nothing empty is written:
 * - `kind` is not written: the action names it (`connections:read` → connection; src/secrets.ts);
 * - `method` is written only when it is not GET, and `route` only when the action does not name it
 *   (a batch lookup, an invalidation, or a request refused before any decision);
 * - `id`, `issuer`, `airflow` and `reason` only when they have a value.
 * Who (subject, issuer, client, Airflow context), what (action, id or glob), when, the decision, the
 * outcome, the fingerprint and the chain (`seq`, `prev`, `hash`, added by the sink) are always there.
 */
export interface AuditEvent extends Omit<AuditItem, 'kind' | 'id' | 'action'> {
  type: 'access';
  time: string;
  request_id: string;
  method?: string;
  route?: string;
  client: string;
  subject: string | null;
  issuer?: string;
  airflow?: AirflowContext;
  status: number;
  latency_ms: number;
  action: string | null;
  id?: string;
}

/**
 * HMAC-SHA256 (with the audit key) over the JSON text of the stored value: a
 * connection's fields with its raw `extra`, or a variable's or config value.
 * Equal fingerprints mean the same value; without the key, nothing about the
 * value can be learned or guessed offline.
 */
export class Fingerprinter {
  private readonly key: KeyObject;
  constructor(key: Buffer) {
    // A KeyObject made once: handing createHmac a Buffer re-imports the key on every call (several times slower).
    this.key = createSecretKey(key);
  }
  // A value object (a connection, packed) is never changed once made, and the cache hands the same object
  // to every request: its fingerprint is computed once, not per request, and kept flat (it lives as long
  // as the cache entry).
  private readonly memo = new WeakMap<object, string>();

  of(value: unknown): string {
    if (typeof value !== 'object' || value === null) return this.compute(value);
    let fingerprint = this.memo.get(value);
    if (fingerprint === undefined) {
      fingerprint = flatString(this.compute(value));
      this.memo.set(value, fingerprint);
    }
    return fingerprint;
  }

  private compute(value: unknown): string {
    // (A packed connection stringifies as the Connection it holds: PackedConnection.toJSON.)
    return `hmac-sha256:${createHmac('sha256', this.key).update(JSON.stringify(value) ?? 'undefined').digest('base64url')}`;
  }
}
