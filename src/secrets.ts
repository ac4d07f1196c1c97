// The vocabulary every layer shares: the kinds of secret, the actions a grant can name, and the
// one table between them. Routes, access control, the cache and the audit log read these; nothing
// here imports another layer, so a new kind or action is added in exactly one place.
import type { Connection } from './airflow/connection.ts';

/** The kinds of secret Airflow reads: connections, variables and config values. */
export const SECRET_KINDS = ['connection', 'variable', 'config'] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

export const isSecretKind = (k: unknown): k is SecretKind => typeof k === 'string' && (SECRET_KINDS as readonly string[]).includes(k);

/** What a variable or config lookup returns. Usually a string; the local filesystem backend returns
 * non-string JSON/YAML values as-is, as Airflow does. */
export type VariableValue = string | number | boolean | null | object;

/** A backend's answer. `version` is the identity of the stored version, where the backend can read
 * it without the value (getVersion): Vault KV v2's number with its created_time, AWS's VersionId,
 * GCP's version name with its create_time. It must not collide: a secret deleted and created again
 * has a new identity even where the store's numbering starts again. The cache uses it to revalidate
 * cheaply instead of refetching the value. Backends without such a call (env, files, KV v1, the
 * metastore) leave it unset: their identity is their content, which the cache reads in full and
 * compares (the HMAC it sends as X-Secret-Version). */
export interface Found<T> {
  value: T;
  version?: string;
  /** When the stored entry expires on its own (ISO 8601): the overlay backend's ephemeral overrides. */
  expires?: string;
}

/** A backend's answer, with the name of the backend that gave it (X-Secret-Source). */
export interface Resolved<T> extends Found<T> {
  source: string;
}

/** What a backend reports about itself: a state, and a stable code and a message that never hold a secret. */
export type BackendState = 'ready' | 'degraded' | 'failed' | 'initialising';
export interface BackendStatus {
  state: BackendState;
  error?: { code: string; message: string; at?: string };
  last_success?: string;
  /** Network backends: the circuit breaker's state. */
  circuit?: 'closed' | 'open' | 'half_open';
}
export interface BackendReport extends BackendStatus {
  name: string;
  type: string;
}

/** Actions whose grants carry a glob over secret ids: `<action>:<glob>`. */
export const SCOPED_ACTIONS = ['connections:read', 'variables:read', 'config:read', 'connections:test', 'cache:invalidate', 'connections:write', 'variables:write'] as const;
/** Actions whose grants name no secret. */
export const PLAIN_ACTIONS = ['backends:read'] as const;

export type ScopedAction = (typeof SCOPED_ACTIONS)[number];
export type PlainAction = (typeof PLAIN_ACTIONS)[number];
export type Action = ScopedAction | PlainAction;

const SCOPED = new Set<string>(SCOPED_ACTIONS);
const PLAIN = new Set<string>(PLAIN_ACTIONS);
export const isScopedAction = (a: unknown): a is ScopedAction => typeof a === 'string' && SCOPED.has(a);
export const isPlainAction = (a: unknown): a is PlainAction => typeof a === 'string' && PLAIN.has(a);

/** The action that reads each kind. */
export const READ_ACTION = { connection: 'connections:read', variable: 'variables:read', config: 'config:read' } as const satisfies Record<SecretKind, ScopedAction>;

/** The kind of secret an action acts on; null for actions that span kinds (cache invalidation) or none. */
export const KIND_OF_ACTION: Record<Action, SecretKind | null> = {
  'connections:read': 'connection',
  'connections:test': 'connection',
  'variables:read': 'variable',
  'config:read': 'config',
  'cache:invalidate': null,
  'backends:read': null,
  'connections:write': 'connection',
  'variables:write': 'variable',
};

/** The kinds the write API changes, and the action that writes each. */
export const WRITABLE_KINDS = ['connection', 'variable'] as const;
export type WritableKind = (typeof WRITABLE_KINDS)[number];
export const WRITE_ACTION = { connection: 'connections:write', variable: 'variables:write' } as const satisfies Record<WritableKind, ScopedAction>;

/** A connection as the cache keeps it (re-exported so routes need not know the model's module). */
export type { Connection };

/** A backend as /readyz shows it: states and a stable code only (the probe is unauthenticated). */
export interface ReadinessBackend {
  name: string;
  type: string;
  state: BackendReport['state'];
  circuit?: BackendReport['circuit'];
  error?: { code: string };
}

/** How a request for one secret ended, in its audit event and its metric. */
export type Outcome = 'found' | 'not_found' | 'denied' | 'error';
