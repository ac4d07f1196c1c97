// The gcp_secret_manager backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema, optionalStringOrNull, stringOrNull } from '../../config/schema.ts';
import { prefixOptions, resilienceOptions } from '../options-common.ts';

export const optionsSchema = backendSchema({
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
