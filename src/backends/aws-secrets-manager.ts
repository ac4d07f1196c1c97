// Airflow's SecretsManagerBackend (spec §7; providers/amazon/.../secrets/secrets_manager.py):
// secret id `prefix + sep + id` (a truthy prefix is rstrip(sep)-ed, "" means the bare id,
// null turns the kind off), GetSecretValue's SecretString, and JSON connection values
// re-keyed through the field aliases and `extra_conn_words`. The client is the real AWS
// SDK with its default credential chain (environment, web identity for IRSA, profiles,
// container/instance roles); its own retries are off, so resilience.ts is in control.
// The SDK is loaded by init(), only when this backend is configured: it costs ~100 ms and ~25 MB
// at startup, which a gateway without an AWS backend should not pay.
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
type AwsSdk = typeof import('@aws-sdk/client-secrets-manager');
import { deserializeConnection, type Connection } from '../airflow/connection.ts';
import { pyJsonLoads, pythonJsonDumps, type PyValue } from '../airflow/python-json.ts';
import { pyStrip } from '../airflow/python-text.ts';
import { parseFailure } from './parse-failure.ts';
import type { BackendContext, BackendFactory } from './registry-types.ts';
import { BackendGuard, networkError, resilienceFrom } from './resilience.ts';
import { BackendError, type BackendStatus, type Found, type SecretKind, type SecretsBackend } from './types.ts';

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

  constructor(name: string, options: Record<string, any>, ctx: BackendContext) {
    this.name = name;
    this.sep = options.sep;
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
    const secret = await this.getSecret('connection', connId);
    // get_connection deserializes only a truthy value.
    if (!secret?.value) return null;
    try {
      return { value: deserializeConnection(connId, this.standardise(secret.value)), ...version(secret) };
    } catch (err) {
      throw parseFailure(this.name, err);
    }
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
    return { value: res.SecretString, ...(res.VersionId ? { version: res.VersionId } : {}) };
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
    if (name === 'DecryptionFailure') return new BackendError('decryption_failure', `${this.name}: Secrets Manager could not decrypt the secret`);
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

function version(found: Found<string>): { version?: string } {
  return found.version === undefined ? {} : { version: found.version };
}

export const awsSecretsManagerBackend: BackendFactory = {
  type: 'aws_secrets_manager',
  create: (options, ctx) => new SecretsManagerBackend(options.name ?? 'aws_secrets_manager', options, ctx),
};
