// The vault backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema, optionalStringOrNull, stringOrNull } from '../../config/schema.ts';
import { resilienceOptions } from '../options-common.ts';

export const optionsSchema = backendSchema({
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
