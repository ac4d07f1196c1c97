// Airflow's VaultBackend (spec §7; providers/hashicorp/.../secrets/vault.py and
// _internal_client/vault_client.py): the same kwargs, defaults, paths and value
// formats, over the KV v1 or v2 engine. Connections are stored as `conn_uri` or as
// a field dict (passed through json.dumps and Connection.from_json, as the current
// provider does); variables and config under `value`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from '../../airflow/connection.ts';
import { pyJsonLoads, pythonJsonDumps, pyToPlain, pyTruthy, type PyDict, type PyValue } from '../../airflow/python-json.ts';
import { quote } from '../../airflow/python-url.ts';
import { ConfigError } from '../../config/errors.ts';
import type { BackendContext, CreateBackend } from '../descriptor.ts';
import { BackendGuard, resilienceFrom } from '../resilience.ts';
import { askBackend, BackendError, type BackendStatus, type Current, type Found, type SecretKind, type SecretsBackend, type VariableValue, type WriteValue } from '../types.ts';
import { connectionToJson } from '../../airflow/connection.ts';
import { VaultClient, VaultError, type VaultAuth, type VaultTls } from './client.ts';
import { connectionFrom, foundWith } from '../values.ts';


/** `rstrip("/")`, keeping None as None. */
const stripSlashes = (p: unknown): string | null => (typeof p === 'string' ? p.replace(/\/+$/, '') : null);

export class VaultBackend implements SecretsBackend {
  readonly type = 'vault';
  readonly name: string;
  private readonly paths: Record<SecretKind, string | null>;
  private readonly mountPoint: string | null;
  private readonly kvVersion: 1 | 2;
  readonly client: VaultClient;
  private readonly guard: BackendGuard;
  private initialised = false;
  /** KV v2 only: the current version's identity (number and created_time), from the metadata, without reading the value. */
  readonly getVersion?: (kind: SecretKind, id: string) => Promise<string | null>;

  constructor(name: string, options: Record<string, any>, ctx: BackendContext) {
    this.name = name;
    this.paths = {
      connection: stripSlashes(options.connections_path),
      variable: stripSlashes(options.variables_path),
      config: stripSlashes(options.config_path),
    };
    this.mountPoint = options.mount_point ?? null;
    this.kvVersion = options.kv_engine_version;
    const resilience = resilienceFrom(options);
    const logger = ctx.logger.child({ backend: name });
    this.guard = new BackendGuard(name, resilience, logger);
    this.client = new VaultClient({
      backendName: name,
      url: options.url ?? ctx.env.VAULT_ADDR ?? 'http://localhost:8200',
      namespace: options.namespace ?? undefined,
      tls: tlsOptions(options, ctx.baseDir),
      auth: authOptions(name, options, ctx),
      authTimeoutMs: resilience.timeout_seconds * 1000,
      logger,
    });
    if (this.kvVersion === 2) this.getVersion = (kind, id) => this.currentVersion(kind, id);
  }

  serves(kind: SecretKind): boolean {
    return this.paths[kind] !== null;
  }

  async init(): Promise<void> {
    try {
      await this.guard.run(() => this.client.init());
    } catch (err) {
      // Not fatal: status() shows it, and the next lookup logs in again.
      this.initError = err instanceof BackendError ? err : undefined;
    }
    this.initialised = true;
  }

  private initError: BackendError | undefined;

  status(): BackendStatus {
    if (!this.initialised) return { state: 'initialising' };
    const status = this.guard.status();
    // A credential Vault refuses is a configuration error, not an outage: not ready until a login works.
    if (this.initError?.code === 'auth_failed' && this.client.logins === 0) return { ...status, state: 'failed' };
    return status;
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    const secret = await this.readSecret('connection', connId);
    if (!secret) return null;
    // VaultBackend.get_conn_value: a truthy conn_uri verbatim, else json.dumps(the dict).
    const uri = secret.data.get('conn_uri');
    const value = pyTruthy(uri) ? uri : pythonJsonDumps(secret.data);
    if (typeof value !== 'string') throw new BackendError('invalid_value', `${this.name}: a stored conn_uri is not a string`);
    return connectionFrom(this.name, connId, { value, version: secret.version });
  }

  getVariable(key: string): Promise<Found<VariableValue> | null> {
    return this.valueOf('variable', key);
  }

  getConfig(key: string): Promise<Found<VariableValue> | null> {
    return this.valueOf('config', key);
  }

  async close(): Promise<void> {
    this.client.close();
  }

  // The write API (writable: true, KV v2): what Airflow's VaultBackend reads back. A connection is
  // stored as its field dict (Connection.as_json's keys), a variable under `value`. Every write
  // carries KV v2's check-and-set: the version current() read, or 0 for "must not exist", so a
  // change made in between fails with precondition_failed instead of being overwritten.

  async current(kind: 'connection' | 'variable', id: string): Promise<Current | null> {
    const found = await askBackend(this, kind, id);
    if (found) return { value: found.value, cas: Number(found.version?.split('@')[0] ?? 0) };
    return null;
  }

  async put(kind: 'connection' | 'variable', id: string, value: WriteValue, options: { cas: unknown }): Promise<void> {
    const apiPath = this.writablePath(kind, id, 'data');
    const data = value.kind === 'connection' ? JSON.parse(connectionToJson(value.connection)) : { value: value.value };
    // "Must not exist": a secret whose latest version was deleted (soft) still has metadata, and a
    // version number that cas must name; it counts as absent, as it reads as not found.
    const cas = typeof options.cas === 'number' ? options.cas : await this.deletedVersion(kind, id);
    try {
      await this.guard.run((signal) => this.client.write(apiPath, { options: { cas }, data }, signal));
    } catch (err) {
      if (err instanceof VaultError && err.status === 400 && err.vaultErrors.some((e) => /check-and-set/i.test(e))) {
        throw new BackendError('precondition_failed', `${this.name}: the secret changed during the write (cas)`);
      }
      throw err;
    }
  }

  async delete(kind: 'connection' | 'variable', id: string): Promise<boolean> {
    // Every version and the metadata: the id reads as not found, and a later create starts afresh.
    // (KV v2 has no check-and-set on delete: a change between the route's read and this call is not seen;
    // with If-Match, the route compared that read's version with the client's.)
    return this.guard.run((signal) => this.client.remove(this.writablePath(kind, id, 'metadata'), signal));
  }

  private writablePath(kind: SecretKind, id: string, section: 'data' | 'metadata'): string {
    const where = this.secretLocation(kind, id);
    const apiPath = where && this.kvVersion === 2 ? this.apiPath(where, section) : null;
    if (!apiPath) throw new BackendError('not_writable', `${this.name}: this id cannot be written here`);
    return apiPath;
  }

  /** The current_version of a secret that reads as not found (0 when it has no metadata); one that
   * exists (its latest version neither deleted nor destroyed) fails "must not exist". */
  private async deletedVersion(kind: SecretKind, id: string): Promise<number> {
    const latest = await this.latestVersion(this.writablePath(kind, id, 'metadata'));
    if (latest?.live) throw new BackendError('precondition_failed', `${this.name}: the secret exists already`);
    return latest?.current ?? 0;
  }

  /** A KV v2 secret's metadata: its current_version, that version's created_time, and whether it reads as
   * found (neither deleted nor destroyed, as hvac's raise_on_deleted_version has it); null without metadata. */
  private async latestVersion(apiPath: string): Promise<{ current: number; createdTime: unknown; live: boolean } | null> {
    const text = await this.guard.run((signal) => this.client.read(apiPath, signal));
    const data = text ? JSON.parse(text)?.data : undefined;
    const current = data?.current_version;
    if (typeof current !== 'number') return null;
    const entry = data?.versions?.[String(current)];
    return { current, createdTime: entry?.created_time, live: !!entry && !entry.destroyed && !entry.deletion_time };
  }

  /** get_variable / get_config: `response["value"]`; an empty secret or one without `value` is None. */
  private async valueOf(kind: 'variable' | 'config', key: string): Promise<Found<VariableValue> | null> {
    const secret = await this.readSecret(kind, key);
    if (!secret || secret.data.size === 0 || !secret.data.has('value')) return null;
    const value = secret.data.get('value') as PyValue;
    if (value === null) return null;
    const plain = pyToPlain(value) as VariableValue;
    try {
      JSON.stringify(plain);
    } catch {
      throw new BackendError('invalid_value', `${this.name}: a stored value cannot be represented as JSON`);
    }
    return foundWith(plain, secret);
  }

  /**
   * VaultBackend._get_secret_with_base + _VaultClient.get_secret: with mount_point null the
   * first segment of the id is the mount (an id without "/" is skipped), and the client then
   * takes the first segment of the whole path as the mount.
   */
  private secretLocation(kind: SecretKind, id: string): { mount: string; path: string } | null {
    const base = this.paths[kind];
    if (base === null) return null;
    let idMount = '';
    let keyPart = id;
    if (!this.mountPoint) {
      const slash = id.indexOf('/');
      if (slash < 0) return null;
      idMount = id.slice(0, slash);
      keyPart = id.slice(slash + 1);
    }
    const secretPath = (idMount ? `${idMount}/` : '') + (base === '' ? keyPart : `${base}/${keyPart}`);
    if (this.mountPoint) return { mount: this.mountPoint, path: secretPath };
    const slash = secretPath.indexOf('/');
    // hvac raises InvalidPath here, which the client turns into None.
    if (slash < 0) return null;
    return { mount: secretPath.slice(0, slash), path: secretPath.slice(slash + 1) };
  }

  private apiPath(where: { mount: string; path: string }, section: 'data' | 'metadata'): string | null {
    // Vault cleans "." and ".." segments (answering with a redirect): such an id cannot name a secret.
    if (`${where.mount}/${where.path}`.split('/').some((s) => s === '.' || s === '..')) return null;
    // hvac's format_url: quote() each argument with "/" safe.
    const mount = quote(where.mount);
    const secretPath = quote(where.path);
    return this.kvVersion === 1 ? `${mount}/${secretPath}` : `${mount}/${section}/${secretPath}`;
  }

  private async readSecret(kind: SecretKind, id: string): Promise<{ data: PyDict; version?: string } | null> {
    const where = this.secretLocation(kind, id);
    const apiPath = where && this.apiPath(where, 'data');
    if (!apiPath) return null;
    // 404 is "not here" (hvac InvalidPath): null.
    const text = await this.guard.run((signal) => this.client.read(apiPath, signal));
    if (text === null) return null;
    const body = this.parse(text);
    const outer = body.get('data');
    const data = this.kvVersion === 1 ? outer : outer instanceof Map ? outer.get('data') : undefined;
    if (!(data instanceof Map)) throw new BackendError('invalid_value', `${this.name}: the secret's data is not a JSON object`);
    if (this.kvVersion === 1) return { data };
    const metadata = outer instanceof Map ? outer.get('metadata') : undefined;
    const version = metadata instanceof Map ? versionIdentity(metadata.get('version'), metadata.get('created_time')) : undefined;
    return { data, ...(version === undefined ? {} : { version }) };
  }

  private async currentVersion(kind: SecretKind, id: string): Promise<string | null> {
    const where = this.secretLocation(kind, id);
    const apiPath = where && this.apiPath(where, 'metadata');
    if (!apiPath) return null;
    const latest = await this.latestVersion(apiPath);
    return latest?.live ? (versionIdentity(latest.current, latest.createdTime) ?? null) : null;
  }

  private parse(text: string): PyDict {
    let body: PyValue;
    try {
      body = pyJsonLoads(text);
    } catch {
      throw new BackendError('backend_error', `${this.name}: Vault answered with a body that is not JSON`);
    }
    if (!(body instanceof Map)) throw new BackendError('backend_error', `${this.name}: Vault answered with a body that is not a JSON object`);
    return body;
  }
}

/**
 * A KV v2 version's identity: its number and its created_time. The number alone collides: deleting a
 * secret's metadata (or restoring or rebuilding a Vault) restarts it at 1, and a cache that compared
 * numbers would confirm the old value forever. The data read and the metadata read give the same
 * created_time text (RFC 3339, nanoseconds), so the two identities compare as strings.
 */
function versionIdentity(version: unknown, createdTime: unknown): string | undefined {
  const number = typeof version === 'bigint' || typeof version === 'number' ? String(version) : undefined;
  return number !== undefined && typeof createdTime === 'string' && createdTime !== '' ? `${number}@${createdTime}` : undefined;
}

function authOptions(name: string, o: Record<string, any>, ctx: BackendContext): VaultAuth {
  const file = (p: string | null | undefined) => (p ? path.resolve(ctx.baseDir, p) : undefined);
  const required = (key: string) => {
    if (!o[key]) throw new ConfigError(`backend "${name}".${key}`, `auth_type ${o.auth_type} requires ${key}`);
    return o[key] as string;
  };
  switch (o.auth_type) {
    case 'approle':
      return { type: 'approle', mount: o.auth_mount_point ?? 'approle', roleId: required('role_id'), secretId: o.secret_id ?? undefined, secretIdPath: file(o.secret_id_path) };
    case 'kubernetes':
      return { type: 'kubernetes', mount: o.auth_mount_point ?? 'kubernetes', role: required('kubernetes_role'), jwtPath: file(required('kubernetes_jwt_path'))! };
    case 'userpass':
      return { type: 'userpass', mount: o.auth_mount_point ?? 'userpass', username: required('username'), password: required('password') };
    default: {
      const token = o.token ?? ctx.env.VAULT_TOKEN;
      if (!token && !o.token_path) throw new ConfigError(`backend "${name}".token`, "the 'token' authentication type requires 'token', 'token_path' or VAULT_TOKEN");
      return { type: 'token', token: token ?? undefined, tokenPath: file(o.token_path) };
    }
  }
}

function tlsOptions(o: Record<string, any>, baseDir: string): VaultTls {
  const read = (p: string) => readFileSync(path.resolve(baseDir, p));
  const tls: VaultTls = { rejectUnauthorized: o.verify !== false };
  if (typeof o.verify === 'string') tls.ca = read(o.verify);
  if (Array.isArray(o.cert)) {
    tls.cert = read(o.cert[0]);
    tls.key = read(o.cert[1]);
  }
  return tls;
}

export const createBackend: CreateBackend = (options, ctx) => new VaultBackend(options.name ?? 'vault', options, ctx);
