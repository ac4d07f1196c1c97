// The one interface every secrets backend implements. It mirrors Airflow's
// BaseSecretsBackend (get_conn_value / get_variable / get_config), but returns a
// parsed Connection so that backends that store field dicts (local files, Vault)
// and backends that store URI/JSON strings meet in the same place.
import type { Connection } from '../airflow/connection.ts';

export type SecretKind = 'connection' | 'variable' | 'config';
export const SECRET_KINDS: readonly SecretKind[] = ['connection', 'variable', 'config'];

/** What a variable or config lookup returns. Usually a string; the local
 * filesystem backend returns non-string JSON/YAML values as-is, as Airflow does. */
export type VariableValue = string | number | boolean | null | object;

export type BackendState = 'ready' | 'degraded' | 'failed' | 'initialising';

export interface BackendStatus {
  state: BackendState;
  /** A stable code and a message that never contains a secret value; `at` when it happened. */
  error?: { code: string; message: string; at?: string };
  last_success?: string;
  /** Network backends: the circuit breaker's state (see resilience.ts). */
  circuit?: 'closed' | 'open' | 'half_open';
}

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
}

export interface SecretsBackend {
  /** Unique name in the chain; reported in X-Secret-Source, metrics and errors. */
  readonly name: string;
  readonly type: string;
  /** Kinds this backend was configured to serve (Airflow: a prefix of None turns a kind off). */
  serves(kind: SecretKind): boolean;
  /** Connects or loads initial data; resolves even if the backend is unhealthy (status() says so). */
  init(): Promise<void>;
  status(): BackendStatus;
  /** null means "not here": the chain goes on to the next backend. Throwing means this backend failed. */
  getConnection(connId: string): Promise<Found<Connection> | null>;
  getVariable(key: string): Promise<Found<VariableValue> | null>;
  getConfig(key: string): Promise<Found<VariableValue> | null>;
  /** Optional: the identity of a secret's current version, read without its value (a metadata call),
   * in the same text as Found.version; null when it no longer exists. Only backends whose Found
   * answers carry a version implement it. */
  getVersion?(kind: SecretKind, id: string): Promise<string | null>;
  close(): Promise<void>;
}

/** Thrown by a backend when it cannot answer. The chain records `code`, never `message`, for clients. */
export class BackendError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
    this.code = code;
  }
}
