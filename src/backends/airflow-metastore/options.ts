// The airflow_metastore backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema } from '../../config/schema.ts';
import { optionalString } from '../options-common.ts';

export const optionsSchema = backendSchema({
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
