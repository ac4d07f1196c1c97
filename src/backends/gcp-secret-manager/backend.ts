// Airflow's CloudSecretManagerBackend (spec §7; providers/google/.../secrets/secret_manager.py
// and _internal_client/secret_manager_client.py): secret `prefix + sep + id` (no rstrip),
// version `latest`, the payload decoded as UTF-8. The prefix check Airflow does in
// __init__ is done when the gateway starts. Credentials are application default
// credentials, or a key file / key dict as in Airflow.
//
// google-gax retries UNAVAILABLE for up to 600 s by default: every call here passes
// `retry: null` and its own deadline so resilience.ts's timeout, retries and breaker are in
// control; the gRPC channel reconnects with a short backoff after the server comes back.
import path from 'node:path';
// The client library is loaded by init(), only when this backend is configured: google-gax, gRPC and
// protobufjs cost time and memory at startup (see bench/optimization-log.md, "Figures quoted in code comments"),
// which a gateway without a GCP backend should not pay.
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { connectionToJson, type Connection } from '../../airflow/connection.ts';
import { ConfigError } from '../../config/errors.ts';
import type { BackendContext, CreateBackend } from '../descriptor.ts';
import { BackendGuard, networkError, resilienceFrom } from '../resilience.ts';
import { BackendError, type BackendStatus, type Current, type Found, type SecretKind, type SecretsBackend, type WriteValue } from '../types.ts';
import { currentByVersion, expectVersion } from '../version-check.ts';
import { connectionFrom } from '../values.ts';


/** _SecretManagerClient.is_valid_secret_name. */
const SECRET_ID_PATTERN = /^[a-zA-Z0-9-_]*$/;

// gRPC status codes (google.rpc.Code).
const GRPC = { CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class CloudSecretManagerBackend implements SecretsBackend {
  readonly type = 'gcp_secret_manager';
  readonly name: string;
  /** Set by init(). */
  client!: SecretManagerServiceClient;
  /** The client's options, but for plaintext's insecure credentials (made by init(), from @grpc/grpc-js). */
  private readonly clientOptions: NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;
  private readonly plaintext: boolean;
  private readonly prefixes: Record<SecretKind, string | null>;
  private readonly sep: string;
  private projectId: string | undefined;
  private readonly guard: BackendGuard;
  private readonly callTimeoutMs: number;
  private initError: BackendError | undefined;

  constructor(name: string, options: Record<string, any>, ctx: BackendContext) {
    this.name = name;
    this.sep = options.sep;
    this.prefixes = { connection: options.connections_prefix, variable: options.variables_prefix, config: options.config_prefix };
    if (this.prefixes.connection !== null && !SECRET_ID_PATTERN.test(this.prefixes.connection + this.sep)) {
      throw new ConfigError(`backend "${name}".connections_prefix`, `connections_prefix + sep must match ${SECRET_ID_PATTERN.source}, as Airflow requires`);
    }
    this.projectId = options.project_id ?? undefined;
    const resilience = resilienceFrom(options);
    this.callTimeoutMs = resilience.timeout_seconds * 1000;
    this.guard = new BackendGuard(name, resilience, ctx.logger.child({ backend: name }));
    const [host, port] = splitEndpoint(options.api_endpoint);
    this.plaintext = Boolean(options.plaintext);
    this.clientOptions = {
      ...(host ? { apiEndpoint: host } : {}),
      ...(port ? { port } : {}),
      ...(options.gcp_key_path ? { keyFilename: path.resolve(ctx.baseDir, options.gcp_key_path) } : {}),
      ...(options.gcp_keyfile_dict ? { credentials: options.gcp_keyfile_dict } : {}),
      ...(options.gcp_scopes ? { scopes: String(options.gcp_scopes).split(',').map((s) => s.trim()).filter(Boolean) } : {}),
      ...(this.projectId ? { projectId: this.projectId } : {}),
      // google-gax's reconnect backoff starts at 1 s and grows to minutes; after an outage, come back fast.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    };
  }

  serves(kind: SecretKind): boolean {
    return this.prefixes[kind] !== null;
  }

  async init(): Promise<void> {
    const [{ SecretManagerServiceClient }, grpc] = await Promise.all([import('@google-cloud/secret-manager'), import('@grpc/grpc-js')]);
    this.client = new SecretManagerServiceClient({ ...this.clientOptions, ...(this.plaintext ? { sslCreds: grpc.credentials.createInsecure() } : {}) });
    if (this.projectId) return;
    // As Airflow: the project of the credentials, when project_id is not given.
    try {
      this.projectId = await this.client.getProjectId();
    } catch {
      this.initError = new BackendError('invalid_config', `${this.name}: project_id is not set and the credentials name no project`);
    }
  }

  status(): BackendStatus {
    if (this.initError) return { state: 'failed', error: this.initError };
    return this.guard.status();
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    return connectionFrom(this.name, connId, await this.getSecret('connection', connId));
  }

  getVariable(key: string): Promise<Found<string> | null> {
    return this.getSecret('variable', key);
  }

  getConfig(key: string): Promise<Found<string> | null> {
    return this.getSecret('config', key);
  }

  /** The identity of the version `latest` resolves to now (GetSecretVersion: metadata, no payload);
   * null when there is none or it is not enabled. */
  async getVersion(kind: SecretKind, id: string): Promise<string | null> {
    const latest = await this.latestVersion(kind, id);
    return latest?.enabled ? latest.identity : null;
  }
  async close(): Promise<void> {
    await this.client?.close();
  }

  private versionName(kind: SecretKind, id: string): string | null {
    const prefix = this.prefixes[kind];
    if (prefix === null) return null;
    if (this.initError) throw this.initError;
    // build_path(prefix, id, sep): no rstrip, so an empty prefix gives "-id".
    return `projects/${this.projectId}/secrets/${prefix}${this.sep}${id}/versions/latest`;
  }

  /**
   * The version `latest` resolves to: its full name and its identity, the name together with its
   * create_time. The name alone collides: a secret deleted and created again starts at versions/1.
   */
  private async latestVersion(kind: SecretKind, id: string): Promise<{ name: string; identity: string; enabled: boolean } | null> {
    const name = this.versionName(kind, id);
    if (name === null) return null;
    const version = await this.call((timeout) => this.client.getSecretVersion({ name }, { timeout, retry: null }).then(([v]) => v));
    if (!version?.name) return null;
    const created = version.createTime;
    const identity = created ? `${version.name}@${String(created.seconds ?? 0)}.${String(created.nanos ?? 0).padStart(9, '0')}` : version.name;
    return { name: version.name, identity, enabled: version.state === 'ENABLED' || version.state === 1 };
  }

  /**
   * The value of `latest`, with its identity. AccessSecretVersion answers no create_time, so the
   * metadata is read first and then that exact version's payload: if the secret is recreated between
   * the two calls, the payload is newer than the identity, and the next revalidation sees a
   * different identity and reads again. (The other order could pair an old payload with the new
   * identity, which every later revalidation would confirm.)
   */
  private async getSecret(kind: SecretKind, id: string): Promise<Found<string> | null> {
    const latest = await this.latestVersion(kind, id);
    if (latest === null) return null;
    // A version that is not enabled is accessed all the same: Secret Manager's FAILED_PRECONDITION is the answer, as in Airflow.
    const response = await this.call((timeout) => this.client.accessSecretVersion({ name: latest.name }, { timeout, retry: null }).then(([r]) => r));
    const data = response?.payload?.data;
    if (!response || data === null || data === undefined) return null;
    let value: string;
    try {
      value = typeof data === 'string' ? data : utf8.decode(data);
    } catch {
      throw new BackendError('invalid_value', `${this.name}: a stored payload is not UTF-8`);
    }
    return { value, version: latest.identity };
  }

  // The write API (writable: true): CreateSecret (automatic replication) for a new id, then
  // AddSecretVersion, which `latest` then names; a connection as Airflow's connection JSON, which
  // deserialize_connection reads. Secret Manager has no check-and-set on versions: the version is
  // compared with `latest` just before AddSecretVersion, and a create fails if the name was taken.

  current(kind: 'connection' | 'variable', id: string): Promise<Current | null> {
    return currentByVersion(this, kind, id);
  }

  async put(kind: 'connection' | 'variable', id: string, value: WriteValue, options: { cas: unknown }): Promise<void> {
    const secret = this.secretName(kind, id);
    const data = Buffer.from(value.kind === 'variable' ? value.value : connectionToJson(value.connection), 'utf8');
    if (options.cas === null) {
      const [parent, secretId] = [`projects/${this.projectId}`, secret.slice(secret.lastIndexOf('/') + 1)];
      const created = await this.write((timeout) => this.client.createSecret({ parent, secretId, secret: { replication: { automatic: {} } } }, { timeout, retry: null }), true);
      if (created === 'exists') {
        // A secret without an enabled version reads as not found: it may take its first (next) version.
        await expectVersion(this, kind, id, null, 'the secret was created meanwhile');
      }
    } else {
      await expectVersion(this, kind, id, options.cas, 'the secret changed during the write');
    }
    await this.write((timeout) => this.client.addSecretVersion({ parent: secret, payload: { data } }, { timeout, retry: null }), false);
  }

  async delete(kind: 'connection' | 'variable', id: string, options: { cas: unknown }): Promise<boolean> {
    const name = this.secretName(kind, id);
    if (typeof options.cas === 'string') await expectVersion(this, kind, id, options.cas, 'the secret changed during the delete');
    const res = await this.call((timeout) => this.client.deleteSecret({ name }, { timeout, retry: null }).then(() => true));
    return res === true;
  }

  private secretName(kind: SecretKind, id: string): string {
    const prefix = this.prefixes[kind];
    const secretId = `${prefix}${this.sep}${id}`;
    if (prefix === null || !SECRET_ID_PATTERN.test(secretId)) throw new BackendError('not_writable', `${this.name}: this id cannot name a Secret Manager secret`);
    if (this.initError) throw this.initError;
    return `projects/${this.projectId}/secrets/${secretId}`;
  }

  /** A write RPC under the guard; with `mayExist`, ALREADY_EXISTS is an answer ('exists'). */
  private write<T>(rpc: (timeoutMs: number) => Promise<T>, mayExist: boolean): Promise<T | 'exists'> {
    return this.guarded(rpc, (code) => (mayExist && code === GRPC.ALREADY_EXISTS ? 'exists' : undefined));
  }

  /** One RPC under the guard. NotFound and InvalidArgument are "not here" (Airflow returns None). */
  private call<T>(rpc: (timeoutMs: number) => Promise<T>): Promise<T | null> {
    return this.guarded(rpc, (code) => (code === GRPC.NOT_FOUND || code === GRPC.INVALID_ARGUMENT ? null : undefined));
  }

  /** One RPC under the guard; a gRPC status that `answer` maps (not to undefined) is an answer, any other failure a BackendError. */
  private guarded<T, A>(rpc: (timeoutMs: number) => Promise<T>, answer: (code: unknown) => A | undefined): Promise<T | A> {
    return this.guard.run(async (signal) => {
      try {
        return await rpc(this.callTimeoutMs);
      } catch (err) {
        const code = (err as { code?: unknown })?.code;
        const answered = answer(code);
        if (answered !== undefined) return answered;
        throw this.toBackendError(err, code, signal);
      }
    });
  }

  private toBackendError(err: unknown, code: unknown, signal: AbortSignal): BackendError {
    switch (code) {
      case GRPC.UNAVAILABLE:
        return new BackendError('unreachable', `${this.name}: Secret Manager is unavailable (UNAVAILABLE)`);
      case GRPC.DEADLINE_EXCEEDED:
      case GRPC.CANCELLED:
        return new BackendError('timeout', `${this.name}: Secret Manager did not answer in time`);
      case GRPC.RESOURCE_EXHAUSTED:
        return new BackendError('throttled', `${this.name}: Secret Manager quota exceeded (RESOURCE_EXHAUSTED)`);
      case GRPC.INTERNAL:
      case GRPC.UNKNOWN:
      case GRPC.ABORTED:
        return new BackendError('server_error', `${this.name}: Secret Manager failed (gRPC ${code})`);
      // Airflow returns None on PermissionDenied; a denial is not an absence, so here it fails the backend.
      case GRPC.PERMISSION_DENIED:
      case GRPC.UNAUTHENTICATED:
        return new BackendError('access_denied', `${this.name}: Secret Manager denied the request (gRPC ${code})`);
      case GRPC.FAILED_PRECONDITION:
        return new BackendError('version_not_enabled', `${this.name}: the latest version is disabled or destroyed`);
      default:
        return typeof code === 'number'
          ? new BackendError('backend_error', `${this.name}: Secret Manager answered gRPC status ${code}`)
          : networkError(this.name, err, signal);
    }
  }
}

function splitEndpoint(endpoint: unknown): [string | undefined, number | undefined] {
  if (typeof endpoint !== 'string' || !endpoint) return [undefined, undefined];
  const m = /^(.*):(\d+)$/.exec(endpoint);
  return m ? [m[1]!, Number(m[2])] : [endpoint, undefined];
}

export const createBackend: CreateBackend = (options, ctx) => new CloudSecretManagerBackend(options.name ?? 'gcp_secret_manager', options, ctx);
