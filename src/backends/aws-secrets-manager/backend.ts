// Airflow's SecretsManagerBackend (spec §7; providers/amazon/.../secrets/secrets_manager.py):
// secret id `prefix + sep + id` (a truthy prefix is rstrip(sep)-ed, "" means the bare id,
// null turns the kind off), GetSecretValue's SecretString, and JSON connection values
// re-keyed through the field aliases and `extra_conn_words`. The client is the real AWS
// SDK with its default credential chain (environment, web identity for IRSA, profiles,
// container/instance roles); its own retries are off, so resilience.ts is in control.
// The SDK is loaded by init(), only when this backend is configured: it costs time and memory at
// startup (see bench/optimization-log.md, "Figures quoted in code comments"),
// which a gateway without an AWS backend should not pay.
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
type AwsSdk = typeof import('@aws-sdk/client-secrets-manager');
import { connectionToUri, type Connection } from '../../airflow/connection.ts';
import { pyJsonLoads, pythonJsonDumps, type PyValue } from '../../airflow/python-json.ts';
import { pyStrip } from '../../airflow/python-text.ts';
import { parseFailure } from '../parse-failure.ts';
import type { BackendContext, CreateBackend } from '../descriptor.ts';
import { BackendGuard, networkError, resilienceFrom } from '../resilience.ts';
import { BackendError, type BackendStatus, type Current, type Found, type SecretKind, type SecretsBackend, type WriteValue } from '../types.ts';
import { currentByVersion, expectVersion } from '../version-check.ts';
import { connectionFrom, foundWith } from '../values.ts';

/** _standardize_secret_keys: each connection field and the secret keys accepted for it, in Airflow's order. */
export const FIELD_ALIASES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['login', ['login', 'user', 'username', 'user_name']],
  ['password', ['password', 'pass', 'key']],
  ['host', ['host', 'remote_host', 'server']],
  ['port', ['port']],
  ['schema', ['database', 'schema']],
  ['conn_type', ['conn_type', 'conn_id', 'connection_type', 'engine']],
  ['extra', ['extra']],
];

/** A truthy prefix loses trailing `sep` characters (Python's rstrip(sep) strips any of sep's characters). */
function normalisePrefix(prefix: unknown, sep: string): string | null {
  if (typeof prefix !== 'string') return null;
  if (!prefix || !sep) return prefix;
  let end = prefix.length;
  while (end > 0 && sep.includes(prefix[end - 1]!)) end -= 1;
  return prefix.slice(0, end);
}

/** Error names for which Airflow returns None: the secret is not there (or cannot be, by its name). */
const NOT_HERE = new Set(['ResourceNotFoundException', 'InvalidParameterException', 'InvalidRequestException']);
const THROTTLED = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'Throttling']);

export class SecretsManagerBackend implements SecretsBackend {
  readonly type = 'aws_secrets_manager';
  readonly name: string;
  /** Set by init(). */
  client!: SecretsManagerClient;
  private sdk!: AwsSdk;
  private readonly clientConfig: SecretsManagerClientConfig;
  private readonly prefixes: Record<SecretKind, string | null>;
  private readonly sep: string;
  private readonly aliases: ReadonlyArray<readonly [string, readonly string[]]>;
  private readonly guard: BackendGuard;
  private readonly writeFormat: 'json' | 'uri';

  constructor(name: string, options: Record<string, any>, ctx: BackendContext) {
    this.name = name;
    this.sep = options.sep;
    this.writeFormat = options.connections_write_format ?? 'json';
    this.prefixes = {
      connection: normalisePrefix(options.connections_prefix, this.sep),
      variable: normalisePrefix(options.variables_prefix, this.sep),
      config: normalisePrefix(options.config_prefix, this.sep),
    };
    const extraWords: Record<string, string[]> = options.extra_conn_words ?? {};
    this.aliases = FIELD_ALIASES.map(([field, words]) => [field, [...words, ...(extraWords[field] ?? []), ...(field === 'login' ? (extraWords.user ?? []) : [])]] as const);
    this.guard = new BackendGuard(name, resilienceFrom(options), ctx.logger.child({ backend: name }));
    const config: SecretsManagerClientConfig = {
      // Retries are resilience.ts's (bounded, jittered, breaker-aware); the SDK's would multiply them.
      maxAttempts: 1,
      ...(options.region_name ? { region: options.region_name } : {}),
      ...(options.endpoint_url ? { endpoint: options.endpoint_url } : {}),
      ...(options.profile_name ? { profile: options.profile_name } : {}),
    };
    if (options.aws_access_key_id && options.aws_secret_access_key) {
      config.credentials = {
        accessKeyId: options.aws_access_key_id,
        secretAccessKey: options.aws_secret_access_key,
        ...(options.aws_session_token ? { sessionToken: options.aws_session_token } : {}),
      };
    }
    this.clientConfig = config;
  }

  serves(kind: SecretKind): boolean {
    return this.prefixes[kind] !== null;
  }

  async init(): Promise<void> {
    this.sdk = await import('@aws-sdk/client-secrets-manager');
    this.client = new this.sdk.SecretsManagerClient(this.clientConfig);
  }

  status(): BackendStatus {
    return this.guard.status();
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    return connectionFrom(this.name, connId, await this.getSecret('connection', connId), (text) => this.standardise(text));
  }

  async getVariable(key: string): Promise<Found<string> | null> {
    return this.getSecret('variable', key);
  }

  async getConfig(key: string): Promise<Found<string> | null> {
    return this.getSecret('config', key);
  }

  /** The AWSCURRENT version id, from DescribeSecret (no value read, no decryption). */
  async getVersion(kind: SecretKind, id: string): Promise<string | null> {
    const secretId = this.secretId(kind, id);
    if (secretId === null) return null;
    const described = await this.call((abortSignal) => this.client.send(new this.sdk.DescribeSecretCommand({ SecretId: secretId }), { abortSignal }));
    if (!described || described.DeletedDate) return null;
    const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'));
    return current ? current[0] : null;
  }

  async close(): Promise<void> {
    this.client?.destroy();
  }

  // The write API (writable: true): CreateSecret for a new id, PutSecretValue for a new version of an
  // existing one, under Airflow's naming; a connection as JSON (the fields the reader keeps) or as
  // Airflow's URI (connections_write_format). Secrets Manager has no check-and-set: the version is
  // compared with AWSCURRENT just before PutSecretValue, and a create fails if the name was taken.

  current(kind: 'connection' | 'variable', id: string): Promise<Current | null> {
    return currentByVersion(this, kind, id);
  }

  async put(kind: 'connection' | 'variable', id: string, value: WriteValue, options: { cas: unknown }): Promise<void> {
    const secretId = this.secretId(kind, id);
    if (secretId === null) throw new BackendError('not_writable', `${this.name}: this kind is turned off here`);
    const text = value.kind === 'variable' ? value.value : this.connectionText(value.connection);
    const send = <T>(command: (signal: AbortSignal) => Promise<T>) =>
      this.guard.run(async (signal) => {
        try {
          return await command(signal);
        } catch (err) {
          if ((err as Error)?.name === 'ResourceExistsException') throw new BackendError('precondition_failed', `${this.name}: the secret was created meanwhile`);
          throw this.toBackendError(err, signal);
        }
      });
    if (options.cas === null) {
      await send((abortSignal) => this.client.send(new this.sdk.CreateSecretCommand({ Name: secretId, SecretString: text }), { abortSignal }));
      return;
    }
    await expectVersion(this, kind, id, options.cas, 'the secret changed during the write');
    await send((abortSignal) => this.client.send(new this.sdk.PutSecretValueCommand({ SecretId: secretId, SecretString: text }), { abortSignal }));
  }

  async delete(kind: 'connection' | 'variable', id: string, options: { cas: unknown }): Promise<boolean> {
    const secretId = this.secretId(kind, id);
    if (secretId === null) return false;
    if (typeof options.cas === 'string') await expectVersion(this, kind, id, options.cas, 'the secret changed during the delete');
    // At once, without the recovery window: the id can be created again right away, as an Airflow user expects.
    const res = await this.call((abortSignal) => this.client.send(new this.sdk.DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }), { abortSignal }));
    return res !== null;
  }

  /** What the reader reads back equal: the description is not among the fields Airflow's reader keeps. */
  private connectionText(conn: Connection): string {
    if (conn.description !== null) throw new BackendError('not_representable', `${this.name}: Airflow's Secrets Manager backend does not read a connection's description`);
    if (this.writeFormat === 'uri') return connectionToUri(conn);
    const fields: Record<string, unknown> = {};
    for (const key of ['conn_type', 'host', 'login', 'password', 'schema', 'port'] as const) if (conn[key] !== null) fields[key] = conn[key];
    if (conn.extra !== null && conn.extra !== '') fields.extra = pyJsonLoads(conn.extra);
    return pythonJsonDumps(fields);
  }

  private secretId(kind: SecretKind, id: string): string | null {
    const prefix = this.prefixes[kind];
    if (prefix === null) return null;
    return prefix ? `${prefix}${this.sep}${id}` : id;
  }

  /** _get_secret: GetSecretValue's SecretString (a binary-only secret has none: None, as in Airflow). */
  private async getSecret(kind: SecretKind, id: string): Promise<Found<string> | null> {
    const secretId = this.secretId(kind, id);
    if (secretId === null) return null;
    const res = await this.call((abortSignal) => this.client.send(new this.sdk.GetSecretValueCommand({ SecretId: secretId }), { abortSignal }));
    if (!res || typeof res.SecretString !== 'string') return null;
    return foundWith(res.SecretString, { version: res.VersionId });
  }

  /** One SDK call under the guard; Airflow's "not here" errors become null. */
  private async call<T>(send: (signal: AbortSignal) => Promise<T>): Promise<T | null> {
    return this.guard.run(async (signal) => {
      try {
        return await send(signal);
      } catch (err) {
        const name = (err as Error)?.name;
        if (NOT_HERE.has(name)) return null;
        throw this.toBackendError(err, signal);
      }
    });
  }

  private toBackendError(err: unknown, signal: AbortSignal): BackendError {
    const name = (err as Error)?.name ?? 'Error';
    const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
    if (THROTTLED.has(name) || status === 429) return new BackendError('throttled', `${this.name}: Secrets Manager throttled the request (${name})`);
    if (name === 'AccessDeniedException' || name === 'UnrecognizedClientException') return new BackendError('access_denied', `${this.name}: Secrets Manager denied the request (${name})`);
    // Airflow returns None for these two; a decryption or service failure is not an absence, so here they fail the backend.
    if (name === 'DecryptionFailure') return new BackendError('decrypt_failed', `${this.name}: Secrets Manager could not decrypt the secret`);
    if (name === 'InternalServiceError' || (status !== undefined && status >= 500)) return new BackendError('server_error', `${this.name}: Secrets Manager failed (${name})`);
    if (name === 'CredentialsProviderError') return new BackendError('auth_failed', `${this.name}: no AWS credentials could be loaded`);
    if (status === undefined) return networkError(this.name, err, signal);
    return new BackendError('backend_error', `${this.name}: Secrets Manager answered ${name} (HTTP ${status})`);
  }

  /** get_conn_value: a value starting with "{" is re-keyed through the aliases, then json.dumps-ed. */
  private standardise(value: string): string {
    if (!pyStrip(value).startsWith('{')) return value;
    let secret: PyValue;
    try {
      secret = pyJsonLoads(value);
    } catch (err) {
      throw parseFailure(this.name, Object.assign(new Error('json'), { code: 'invalid_json', cause: err }));
    }
    if (!(secret instanceof Map)) throw new BackendError('invalid_value', `${this.name}: a stored connection is not a JSON object`);
    const standard = new Map<string, PyValue>();
    for (const [field, words] of this.aliases) {
      // The first key, in the secret's own order, that is one of the field's words.
      let chosen: PyValue = null;
      for (const [k, v] of secret) {
        if (words.includes(k)) {
          chosen = v;
          break;
        }
      }
      standard.set(field, chosen);
    }
    return pythonJsonDumps(standard);
  }
}

export const createBackend: CreateBackend = (options, ctx) => new SecretsManagerBackend(options.name ?? 'aws_secrets_manager', options, ctx);
