// One fixture per backend for the shared conformance suite: how to store a
// connection, a variable or a config value in that backend's own format, under
// Airflow's DEFAULT naming for it (spelled out here literally, so the suite checks
// the naming), and how to configure a gateway on it. Every store is a real server
// or a real file; ids are unique per test, so tests share one server.
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { createCipheriv, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectionFromUri } from '../../src/airflow/connection.ts';
import { registerSecrets, startTestGateway, tempDir, type TestGateway } from './gateway.ts';
import { startGcpSecretManager, type GcpSecretManagerServer } from './servers/gcp-secret-manager.ts';
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type MotoServer } from './servers/moto.ts';
import { startOpenBao, type OpenBaoServer } from './servers/openbao.ts';
import { createAirflowSecretTables, startPostgres, type PostgresServer } from './servers/postgres.ts';
import { startRedis, type RedisServer } from './servers/redis.ts';

export type Kind = 'connection' | 'variable' | 'config';

/** A stored connection: as an Airflow URI, or as fields (JSON for string stores, a dict for Vault and files). */
export type StoredValue = { uri: string } | { fields: Record<string, unknown> } | { raw: string } | { variable: string };

export interface BackendFixture {
  /** The label in test names. */
  label: string;
  /** Kinds this backend serves with its default options. */
  kinds: readonly Kind[];
  /** Options that turn `kind` off, as Airflow spells it (a null path or prefix); null when the kind cannot be off. */
  disable(kind: Kind): Record<string, unknown> | null;
  /** Stores a value under Airflow's default name for the kind. Returns when the backend can read it. */
  put(kind: Kind, id: string, value: StoredValue): Promise<void>;
  /** Why this store cannot hold an empty string, when it cannot. */
  noEmptyString?: string;
  /** A stored connection that does not parse, in this store's own format. */
  broken: StoredValue;
  /** The backend error code `broken` gives, when it is not `invalid_value`. */
  brokenCode?: string;
  /** Why this store keeps no versions though its type can (its descriptor's capabilities.versioned). */
  unversioned?: string;
  /** A gateway with this backend alone (plus `options`). */
  gateway(options?: Record<string, unknown>): Promise<TestGateway>;
  dispose(): Promise<void>;
}

/** The password inside the broken values: it must never appear in an answer or a log. */
export const BROKEN_PASSWORD = 'broken-SECRET-0451';
const BROKEN_JSON: StoredValue = { raw: `{"conn_type": "http", "password": "${BROKEN_PASSWORD}", ` };

const asString = (value: StoredValue): string =>
  'uri' in value ? value.uri : 'fields' in value ? JSON.stringify(value.fields) : 'raw' in value ? value.raw : value.variable;

export function environmentFixture(): BackendFixture {
  const env: NodeJS.ProcessEnv = {};
  return {
    label: 'environment',
    kinds: ['connection', 'variable'],
    broken: BROKEN_JSON,
    disable: () => null,
    async put(kind, id, value) {
      env[`${kind === 'connection' ? 'AIRFLOW_CONN_' : 'AIRFLOW_VAR_'}${id.toUpperCase()}`] = asString(value);
    },
    gateway: (options = {}) => startTestGateway({ env, config: { backends: [{ type: 'environment', ...options }] } }),
    async dispose() {},
  };
}

export function localFilesystemFixture(): BackendFixture {
  const entries: Record<Kind, Record<string, unknown>> = { connection: {}, variable: {}, config: {} };
  const files: Record<Kind, string> = { connection: 'connections.json', variable: 'variables.json', config: 'config.json' };
  return {
    label: 'local_filesystem',
    kinds: ['connection', 'variable', 'config'],
    // A string is a URI here (and `{...` parses as one); a field Connection() does not take fails.
    broken: { fields: { conn_type: 'http', password: BROKEN_PASSWORD, not_a_field: 1 } },
    disable: (kind) => ({ [kind === 'connection' ? 'connections_file_path' : kind === 'variable' ? 'variables_file_path' : 'configs_file_path']: null }),
    async put(kind, id, value) {
      entries[kind][id] = 'uri' in value ? value.uri : 'fields' in value ? value.fields : 'raw' in value ? value.raw : value.variable;
    },
    async gateway(options = {}) {
      const dir = tempDir();
      for (const kind of Object.keys(files) as Kind[]) writeFileSync(path.join(dir, files[kind]), JSON.stringify(entries[kind]));
      return startTestGateway({
        dir,
        config: {
          backends: [
            { type: 'local_filesystem', connections_file_path: files.connection, variables_file_path: files.variable, configs_file_path: files.config, ...options },
          ],
        },
      });
    },
    async dispose() {},
  };
}

const VAULT_PATHS: Record<Kind, string> = { connection: 'connections', variable: 'variables', config: 'config' };

/** Vault, KV v2 on the default `secret` mount, or KV v1 on `kv1` (mount_point: kv1, kv_engine_version: 1). */
export async function vaultFixture(version: 1 | 2, shared?: OpenBaoServer): Promise<BackendFixture & { bao: OpenBaoServer }> {
  const bao = shared ?? (await startOpenBao());
  const mount = version === 2 ? 'secret' : 'kv1';
  if (version === 1) await bao.enableKvV1(mount);
  return {
    label: `vault (KV v${version})`,
    bao,
    ...(version === 1 ? { unversioned: 'KV v1 keeps no versions' } : {}),
    kinds: ['connection', 'variable', 'config'],
    broken: { fields: { conn_type: 'http', password: BROKEN_PASSWORD, not_a_field: 1 } },
    disable: (kind) => ({ [kind === 'connection' ? 'connections_path' : kind === 'variable' ? 'variables_path' : 'config_path']: null }),
    async put(kind, id, value) {
      // Connections: {conn_uri} or the field dict; variables and config: {value}.
      const data = 'uri' in value ? { conn_uri: value.uri } : 'fields' in value ? value.fields : { value: 'raw' in value ? value.raw : value.variable };
      await bao.putSecret(mount, `${VAULT_PATHS[kind]}/${id}`, data, version);
    },
    gateway: (options = {}) =>
      startTestGateway({
        config: {
          backends: [{ type: 'vault', url: bao.url, token: bao.rootToken, ...(version === 1 ? { mount_point: mount, kv_engine_version: 1 } : {}), ...options }],
        },
        secrets: [bao.rootToken],
      }),
    async dispose() {
      if (!shared) await bao.dispose();
    },
  };
}

const AWS_PREFIXES: Record<Kind, string> = { connection: 'airflow/connections/', variable: 'airflow/variables/', config: 'airflow/config/' };

export async function awsFixture(): Promise<BackendFixture & { moto: MotoServer }> {
  const moto = await startMoto();
  const sm = moto.secretsManagerClient();
  return {
    label: 'aws_secrets_manager',
    moto,
    kinds: ['connection', 'variable', 'config'],
    broken: BROKEN_JSON,
    noEmptyString: 'Secrets Manager keeps no version for an empty SecretString (moto answers ResourceNotFound)',
    disable: (kind) => ({ [kind === 'connection' ? 'connections_prefix' : kind === 'variable' ? 'variables_prefix' : 'config_prefix']: null }),
    async put(kind, id, value) {
      await sm.send(new CreateSecretCommand({ Name: `${AWS_PREFIXES[kind]}${id}`, SecretString: asString(value) }));
    },
    gateway: (options = {}) => startTestGateway({ config: { backends: [awsBackendConfig(moto.url, options)] } }),
    async dispose() {
      sm.destroy();
      await moto.dispose();
    },
  };
}

export function awsBackendConfig(endpoint: string, options: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'aws_secrets_manager',
    region_name: MOTO_REGION,
    endpoint_url: endpoint,
    aws_access_key_id: MOTO_CREDENTIALS.accessKeyId,
    aws_secret_access_key: MOTO_CREDENTIALS.secretAccessKey,
    ...options,
  };
}

const GCP_PREFIXES: Record<Kind, string> = { connection: 'airflow-connections-', variable: 'airflow-variables-', config: 'airflow-config-' };
export const GCP_PROJECT = 'harness-project';

export async function gcpFixture(): Promise<BackendFixture & { gcp: GcpSecretManagerServer }> {
  const gcp = await startGcpSecretManager();
  const client = gcp.client();
  return {
    label: 'gcp_secret_manager',
    gcp,
    kinds: ['connection', 'variable', 'config'],
    broken: BROKEN_JSON,
    disable: (kind) => ({ [kind === 'connection' ? 'connections_prefix' : kind === 'variable' ? 'variables_prefix' : 'config_prefix']: null }),
    async put(kind, id, value) {
      const parent = `projects/${GCP_PROJECT}`;
      const [secret] = await client.createSecret({ parent, secretId: `${GCP_PREFIXES[kind]}${id}`, secret: { replication: { automatic: {} } } });
      await client.addSecretVersion({ parent: secret.name!, payload: { data: Buffer.from(asString(value), 'utf8') } });
    },
    gateway: (options = {}) => startTestGateway({ config: { backends: [gcpBackendConfig(gcp.port, options)] } }),
    async dispose() {
      await client.close();
      await gcp.dispose();
    },
  };
}

export function gcpBackendConfig(port: number, options: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'gcp_secret_manager', project_id: GCP_PROJECT, api_endpoint: `127.0.0.1:${port}`, plaintext: true, ...options };
}

/** The overlay: entries in Redis under `secrets-gateway:overlay:<kind>:<id>`, AES-256-GCM (12-byte IV, 16-byte tag,
 * the kind and id as associated data) under the configured key, spelled out here so the suite checks the format. */
export async function overlayFixture(): Promise<BackendFixture & { redis: RedisServer }> {
  const redis = await startRedis();
  const key = randomBytes(32);
  return {
    label: 'overlay',
    redis,
    kinds: ['connection', 'variable'],
    broken: BROKEN_JSON,
    disable: () => null,
    async put(kind, id, value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(`${kind}\u0000${id}`));
      const body = Buffer.concat([cipher.update(asString(value), 'utf8'), cipher.final()]);
      const stored = `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
      await redis.command('SET', `secrets-gateway:overlay:${kind}:${id}`, stored, 'EX', '3600');
    },
    gateway: (options = {}) =>
      startTestGateway({ env: { SECRETS_GATEWAY_OVERLAY_KEY: key.toString('base64') }, secrets: [key.toString('base64')], config: { backends: [{ type: 'overlay', redis_url: redis.url, ...options }] } }),
    async dispose() {
      await redis.dispose();
    },
  };
}

/**
 * Airflow's metadata database on a real PostgreSQL: Airflow 3.3.2's `connection` and `variable`
 * tables as its models create them (without the foreign key to `team`), one row per value. A
 * connection given as a URI is stored as the fields Connection(uri=...) splits it into, as
 * `airflow connections add --conn-uri` does; given as fields, each names its column.
 */
export async function airflowMetastoreFixture(): Promise<BackendFixture & { pg: PostgresServer }> {
  const pg = await startPostgres({ database: 'airflow' });
  await createAirflowSecretTables(pg);
  // A Fernet key is configured, so a password marked encrypted that is no Fernet token fails to decrypt.
  const fernetKey = `${randomBytes(32).toString('base64url')}=`;
  registerSecrets([fernetKey]);
  const literal = (v: unknown): string =>
    v === null || v === undefined ? 'NULL' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : `'${String(v).replaceAll("'", "''")}'`;
  return {
    label: 'airflow_metastore',
    pg,
    kinds: ['connection', 'variable'],
    // The password is flagged encrypted but is not a Fernet token: decrypt_failed, and the text never shown.
    broken: { fields: { conn_type: 'http', password: BROKEN_PASSWORD, is_encrypted: true } },
    brokenCode: 'decrypt_failed',
    disable: () => null,
    async put(kind, id, value) {
      if (kind !== 'connection') {
        await pg.psql(`INSERT INTO variable (key, val, is_encrypted) VALUES (${literal(id)}, ${literal(asString(value))}, false)`);
        return;
      }
      let row: Record<string, unknown>;
      if ('uri' in value) {
        const { conn_id: _, ...fields } = connectionFromUri(id, value.uri);
        row = fields;
      } else if ('fields' in value) {
        const { extra, ...fields } = value.fields;
        row = { ...fields, extra: extra === undefined || typeof extra === 'string' ? extra : JSON.stringify(extra) };
      } else {
        throw new Error('airflow_metastore stores a connection as a URI or as fields');
      }
      const columns = { is_encrypted: false, is_extra_encrypted: false, ...row, conn_id: id };
      await pg.psql(
        `INSERT INTO connection (${Object.keys(columns).join(', ')}) VALUES (${Object.values(columns).map(literal).join(', ')})`,
      );
    },
    gateway: (options = {}) =>
      startTestGateway({
        env: { AIRFLOW__CORE__FERNET_KEY: fernetKey },
        config: { backends: [{ type: 'airflow_metastore', sql_alchemy_conn: pg.url, ...options }] },
      }),
    async dispose() {
      await pg.dispose();
    },
  };
}

/** Servers several fixtures share in one test file (one OpenBao for both KV versions). */
export interface SharedServers {
  bao: OpenBaoServer;
}

/**
 * The conformance suite's fixtures, by backend type: every type in src/backends/registry.ts must have
 * at least one (test/integration/backends-conformance.test.ts fails for a type without), so a new
 * backend is a folder, its registry line, and its entry here.
 */
export const CONFORMANCE_FIXTURES: Readonly<Record<string, ReadonlyArray<{ label: string; make: (shared: SharedServers) => Promise<BackendFixture> }>>> = {
  environment: [{ label: 'environment', make: async () => environmentFixture() }],
  local_filesystem: [{ label: 'local_filesystem', make: async () => localFilesystemFixture() }],
  vault: [
    { label: 'vault (KV v2)', make: ({ bao }) => vaultFixture(2, bao) },
    { label: 'vault (KV v1)', make: ({ bao }) => vaultFixture(1, bao) },
  ],
  aws_secrets_manager: [{ label: 'aws_secrets_manager', make: () => awsFixture() }],
  gcp_secret_manager: [{ label: 'gcp_secret_manager', make: () => gcpFixture() }],
  airflow_metastore: [{ label: 'airflow_metastore', make: () => airflowMetastoreFixture() }],
  overlay: [{ label: 'overlay', make: () => overlayFixture() }],
};
