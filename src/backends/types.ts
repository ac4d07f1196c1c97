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

/** What a backend's lookup of each kind answers with. */
export interface BackendValue {
  connection: Connection;
  variable: VariableValue;
  config: VariableValue;
}

const ASK: { [K in SecretKind]: (backend: SecretsBackend, id: string) => Promise<Found<BackendValue[K]> | null> } = {
  connection: (backend, id) => backend.getConnection(id),
  variable: (backend, id) => backend.getVariable(id),
  config: (backend, id) => backend.getConfig(id),
};

/** The one place a kind becomes a backend's own per-kind method (Airflow's get_connection /
 * get_variable / get_config): every layer above asks by kind. */
export const askBackend = <K extends SecretKind>(backend: SecretsBackend, kind: K, id: string): Promise<Found<BackendValue[K]> | null> => ASK[kind](backend, id);

/**
 * The catalog of backend error codes, each with its meaning: the `code` of a failed backend in a
 * problem's `failed_backends`, a resolution step, `GET /v1/backends` and `/readyz`. Declared once
 * here; the BackendError constructor takes no other (the local_filesystem backend passes on its
 * file's own load code, see FileLoadError).
 */
export const BACKEND_ERRORS = {
  unreachable: 'the backend cannot be reached (connection refused, DNS, TLS, Redis not connected)',
  timeout: 'no answer within the lookup budget (timeout_seconds, retries included)',
  throttled: 'the backend throttled the request (HTTP 429, a quota, a throttling exception)',
  server_error: 'the backend failed on its side (HTTP 5xx, AWS InternalServiceError)',
  circuit_open: 'repeated failures opened the circuit; the backend is not asked until the next probe',
  access_denied: 'the backend refused the credentials access to this secret (HTTP 403, AccessDenied, PermissionDenied)',
  auth_failed: 'the gateway could not log in to the backend or load its credentials',
  invalid_config: 'the backend cannot serve with its configuration (e.g. GCP with no project)',
  invalid_value: 'a stored value is not one Airflow would read (not JSON, not UTF-8, not an object)',
  decrypt_failed: 'a stored value does not decrypt (Fernet keys, the overlay key, AWS DecryptionFailure)',
  fernet_key_missing: 'a metastore value is encrypted and no Fernet key is configured',
  database_unavailable: 'the Airflow metadata database query failed',
  schema_missing: 'the Airflow metadata database has no connection and variable tables',
  version_not_enabled: "a GCP secret's latest version is disabled or destroyed",
  not_writable: 'a write names an id or kind this backend cannot store',
  not_representable: "a write this backend's Airflow reader would not read back equal",
  precondition_failed: 'a conditional write found the secret changed',
  backend_error: 'any other failure of the backend or its client',
} as const;

export type BackendErrorCode = keyof typeof BACKEND_ERRORS;

/** The code a failure is reported with (a problem's failed_backends, a resolution step, a log line): a
 * BackendError's own, else `backend_error` (any other error's message is never passed on). */
export const backendErrorCode = (err: unknown): string => (err instanceof BackendError ? err.code : 'backend_error');

/** Thrown by a backend when it cannot answer. The chain records `code`, never `message`, for clients. */
export class BackendError extends Error {
  readonly code: string;
  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
    this.code = code;
  }
}

/**
 * local_filesystem's failure while its file is not loaded: the code is the file's own load error
 * (`file_not_found`, `file_unreadable`, or the Airflow file parser's code such as
 * `variable_not_unique`, which names the problem the way Airflow's message does), or `not_loaded`.
 */
export class FileLoadError extends BackendError {
  constructor(code: string, message: string) {
    // The one code outside the catalog, on purpose: the file's problem as the parser names it.
    super(code as BackendErrorCode, message);
  }
}

/** What a write stores: a connection the Airflow model accepted, or a variable's text. */
export type WriteValue = { kind: 'connection'; connection: Connection } | { kind: 'variable'; value: string };

/** A stored secret as its writer sees it before a change: the value as the backend's reader reads it
 * (so its fingerprint is the X-Secret-Version a GET shows) and the token that makes a write conditional
 * on it being unchanged (Vault's version number, the overlay's stored text, AWS's VersionId...). */
export interface Current {
  value: unknown;
  cas: unknown;
  expires?: string;
}

/**
 * A backend that can store what its own Airflow reader reads (`writable: true`). `cas` is what
 * current() returned, or null for "must not exist yet": a writer that can check it atomically does
 * (Vault's cas, a Redis script, a row lock), and answers a changed secret with BackendError
 * `precondition_failed`.
 */
export interface SecretWriter {
  current(kind: 'connection' | 'variable', id: string): Promise<Current | null>;
  put(kind: 'connection' | 'variable', id: string, value: WriteValue, options: { cas: unknown; ttlSeconds?: number }): Promise<void>;
  /** false: there was nothing to delete. */
  delete(kind: 'connection' | 'variable', id: string, options: { cas: unknown }): Promise<boolean>;
  /** Entries expire (the overlay): ?ttl_seconds applies, up to this many seconds. */
  readonly maxTtlSeconds?: number;
  readonly defaultTtlSeconds?: number;
}

export const isWriter = (b: SecretsBackend): b is SecretsBackend & SecretWriter =>
  typeof (b as Partial<SecretWriter>).put === 'function' && typeof (b as Partial<SecretWriter>).current === 'function';
