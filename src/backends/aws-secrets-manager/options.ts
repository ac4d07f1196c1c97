// The aws_secrets_manager backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema, optionalStringOrNull } from '../../config/schema.ts';
import { prefixOptions, resilienceOptions } from '../options-common.ts';
import { FIELD_ALIASES } from './backend.ts';

export const optionsSchema = backendSchema({
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
