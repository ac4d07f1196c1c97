// Each backend type's options schema (TypeBox): what a backend entry of that type may say,
// with Airflow's kwargs and defaults. Only the config validator generator
// (scripts/config-validators.ts), the chart schema generator and the tests import this
// module: a start validates backend entries with the generated validators and never loads
// TypeBox (its cost: see bench/optimization-log.md, "Figures quoted in code comments").
// The backend modules read their options untyped, as Airflow's
// kwargs are, after the generated validator has checked them and filled the defaults.
import { Type, type TObject } from '@sinclair/typebox';
import { backendSchema, optionalStringOrNull, stringOrNull } from '../config/schema.ts';
import { FIELD_ALIASES } from './aws-secrets-manager.ts';

/** Options every network backend takes (gateway options, not Airflow kwargs); read by resilience.ts's `resilienceFrom`. */
const resilienceOptions = {
  timeout_seconds: Type.Number({ default: 5, exclusiveMinimum: 0, maximum: 300, description: 'Budget for one lookup, retries included.' }),
  max_retries: Type.Integer({ default: 2, minimum: 0, maximum: 10, description: 'Retries of a transient failure, with jittered exponential backoff.' }),
  circuit_breaker_failures: Type.Integer({ default: 5, minimum: 1, maximum: 1000, description: 'Consecutive failed lookups that open the circuit.' }),
  circuit_breaker_reset_seconds: Type.Number({ default: 10, minimum: 0.05, maximum: 3600, description: 'How long the circuit stays open before one probe.' }),
};

const environment = backendSchema({
  type: Type.Literal('environment'),
});

const optionalPath = () => Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()]));

const localFilesystem = backendSchema({
  type: Type.Literal('local_filesystem'),
  connections_file_path: optionalPath(),
  variables_file_path: optionalPath(),
  configs_file_path: optionalPath(),
  poll_interval_seconds: Type.Number({ default: 2, minimum: 0.05, maximum: 3600, description: 'Fallback check for changes the directory watch misses.' }),
});

const vault = backendSchema({
  type: Type.Literal('vault'),
  // Airflow's VaultBackend kwargs and defaults.
  connections_path: stringOrNull({ default: 'connections', description: 'null turns connections off; "" makes the path the id itself.' }),
  variables_path: stringOrNull({ default: 'variables' }),
  config_path: stringOrNull({ default: 'config' }),
  mount_point: stringOrNull({ default: 'secret', description: 'null: the first segment of each id is the mount.' }),
  kv_engine_version: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 2 }),
  url: optionalStringOrNull(),
  namespace: optionalStringOrNull(),
  auth_type: Type.Union([Type.Literal('token'), Type.Literal('approle'), Type.Literal('kubernetes'), Type.Literal('userpass')], { default: 'token' }),
  auth_mount_point: optionalStringOrNull(),
  token: optionalStringOrNull(),
  token_path: optionalStringOrNull(),
  role_id: optionalStringOrNull(),
  secret_id: optionalStringOrNull(),
  secret_id_path: Type.Optional(stringOrNull({ description: 'Gateway addition: read the approle secret_id from a file (re-read at each login).' })),
  kubernetes_role: optionalStringOrNull(),
  kubernetes_jwt_path: Type.String({ default: '/var/run/secrets/kubernetes.io/serviceaccount/token' }),
  username: optionalStringOrNull(),
  password: optionalStringOrNull(),
  // hvac.Client TLS kwargs: verify (bool, or a CA bundle path) and cert ([cert path, key path]).
  verify: Type.Union([Type.Boolean(), Type.String({ minLength: 1 })], { default: true }),
  cert: Type.Optional(Type.Union([Type.Tuple([Type.String({ minLength: 1 }), Type.String({ minLength: 1 })]), Type.Null()])),
  // Accepted for Airflow compatibility; they only act in Airflow's multi-team mode, which the gateway does not have.
  use_team_secrets_path: Type.Optional(Type.Boolean()),
  global_secrets_path: optionalStringOrNull(),
  ...resilienceOptions,
});

/** The prefix kwargs of Airflow's cloud secrets backends (null turns a kind off), with each backend's defaults. */
const prefixOptions = (connections: string, variables: string, config: string, sep: string) => ({
  connections_prefix: stringOrNull({ default: connections }),
  variables_prefix: stringOrNull({ default: variables }),
  config_prefix: stringOrNull({ default: config }),
  sep: Type.String({ default: sep }),
});

const awsSecretsManager = backendSchema({
  type: Type.Literal('aws_secrets_manager'),
  // Airflow's SecretsManagerBackend kwargs and defaults.
  ...prefixOptions('airflow/connections', 'airflow/variables', 'airflow/config', '/'),
  extra_conn_words: Type.Optional(
    Type.Union([
      Type.Record(Type.Union([...FIELD_ALIASES.map(([f]) => Type.Literal(f)), Type.Literal('user')]), Type.Array(Type.String())),
      Type.Null(),
    ]),
  ),
  // boto client settings Airflow takes from the same kwargs.
  region_name: optionalStringOrNull(),
  endpoint_url: optionalStringOrNull(),
  profile_name: optionalStringOrNull(),
  aws_access_key_id: optionalStringOrNull(),
  aws_secret_access_key: optionalStringOrNull(),
  aws_session_token: optionalStringOrNull(),
  // Removed from Airflow (it now detects JSON itself); accepted so old kwargs still load, and ignored.
  full_url_mode: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  connections_write_format: Type.Union([Type.Literal('json'), Type.Literal('uri')], {
    default: 'json',
    description: 'Gateway addition (writable: true): how the write API stores a connection, as JSON fields or as an Airflow URI; the reader reads both.',
  }),
  ...resilienceOptions,
});

const gcpSecretManager = backendSchema({
  type: Type.Literal('gcp_secret_manager'),
  // Airflow's CloudSecretManagerBackend kwargs and defaults.
  ...prefixOptions('airflow-connections', 'airflow-variables', 'airflow-config', '-'),
  project_id: optionalStringOrNull(),
  gcp_key_path: optionalStringOrNull(),
  gcp_keyfile_dict: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  gcp_scopes: optionalStringOrNull(),
  // Gateway additions, for a regional endpoint or a local emulator.
  api_endpoint: Type.Optional(stringOrNull({ description: 'host or host:port of the Secret Manager API (default: the Google endpoint).' })),
  plaintext: Type.Boolean({ default: false, description: 'Unencrypted gRPC without credentials: for a local emulator only.' }),
  ...resilienceOptions,
});

const optionalString = (description: string) => Type.Optional(Type.String({ minLength: 1, description }));

const airflowMetastore = backendSchema({
  type: Type.Literal('airflow_metastore'),
  sql_alchemy_conn: optionalString('Airflow\'s [database] sql_alchemy_conn: a postgresql:// URL (postgresql+psycopg2:// and other drivers accepted). Prefer sql_alchemy_conn_env when it holds a password.'),
  sql_alchemy_conn_env: Type.String({ minLength: 1, default: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', description: 'Environment variable holding the URL, when sql_alchemy_conn is not set.' }),
  sql_alchemy_schema: optionalString('Airflow\'s [database] sql_alchemy_schema: the schema holding the tables (default: the search path).'),
  fernet_key_file: optionalString('File holding Airflow\'s [core] fernet_key (comma-separated keys for a rotation); re-read when it changes.'),
  fernet_key_env: Type.String({ minLength: 1, default: 'AIRFLOW__CORE__FERNET_KEY', description: 'Environment variable holding the key(s), when fernet_key_file is not set.' }),
  pool_size: Type.Integer({ default: 5, minimum: 1, maximum: 100 }),
  statement_timeout_seconds: Type.Number({ default: 5, minimum: 0.1, maximum: 300 }),
  connect_timeout_seconds: Type.Number({ default: 5, minimum: 0.1, maximum: 300 }),
});

const overlay = backendSchema({
  type: Type.Literal('overlay'),
  redis_url: Type.String({ pattern: '^rediss?://', description: 'The Redis every replica shares (it may be cache.redis_url).' }),
  key_file: optionalString('File holding the 32-byte AES-256-GCM key (base64) that entries are encrypted with at rest.'),
  key_env: Type.String({ minLength: 1, default: 'SECRETS_GATEWAY_OVERLAY_KEY', description: 'Environment variable holding the key, when key_file is not set.' }),
  key_prefix: Type.String({ minLength: 1, maxLength: 200, default: 'secrets-gateway:overlay:', description: 'Prefix of the Redis keys.' }),
  max_ttl_seconds: Type.Integer({ default: 86400, minimum: 1, maximum: 31536000, description: 'Longest expiry a write may ask for (?ttl_seconds).' }),
  default_ttl_seconds: Type.Integer({ default: 3600, minimum: 1, maximum: 31536000, description: 'Expiry of a write that names none (capped at max_ttl_seconds).' }),
  timeout_seconds: Type.Number({ default: 2, exclusiveMinimum: 0, maximum: 60, description: 'Budget for one Redis command.' }),
});

/** By backend type, in the registry's order (a unit test checks that both list the same types). */
export const BACKEND_OPTIONS_SCHEMAS: Readonly<Record<string, TObject>> = {
  environment,
  local_filesystem: localFilesystem,
  vault,
  aws_secrets_manager: awsSecretsManager,
  gcp_secret_manager: gcpSecretManager,
  airflow_metastore: airflowMetastore,
  overlay,
};
