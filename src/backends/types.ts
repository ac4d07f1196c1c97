// The one interface every secrets backend implements. It mirrors Airflow's
// BaseSecretsBackend (get_conn_value / get_variable / get_config), but returns a
// parsed Connection so that backends that store field dicts (local files, Vault)
// and backends that store URI/JSON strings meet in the same place.
import type { Connection } from '../airflow/connection.ts';

// The shared vocabulary (kinds, values, answers, states) lives in src/secrets.ts; backends use it from here.
import type { BackendStatus, Found, SecretKind, VariableValue } from '../secrets.ts';
export { SECRET_KINDS } from '../secrets.ts';
export type { BackendState, BackendStatus, Found, SecretKind, VariableValue } from '../secrets.ts';

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
