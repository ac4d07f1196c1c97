// The airflow_metastore backend's configuration: Airflow's URL spellings, and errors that name the key, never the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createBackend, postgresUrlFromSqlAlchemy } from '../../../src/backends/airflow-metastore/backend.ts';
import { ConfigError } from '../../../src/config/errors.ts';

test('SQLAlchemy PostgreSQL URLs become libpq URLs; other databases are refused', () => {
  assert.equal(postgresUrlFromSqlAlchemy('postgresql+psycopg2://u:p@h:5432/airflow?sslmode=require'), 'postgresql://u:p@h:5432/airflow?sslmode=require');
  assert.equal(postgresUrlFromSqlAlchemy('postgresql://u@h/db'), 'postgresql://u@h/db');
  assert.equal(postgresUrlFromSqlAlchemy('postgres://u@h/db'), 'postgresql://u@h/db');
  assert.equal(postgresUrlFromSqlAlchemy('postgresql+asyncpg://u@h/db'), 'postgresql://u@h/db');
  for (const other of ['mysql+mysqldb://u:p@h/db', 'sqlite:////tmp/airflow.db', 'http://h/db', '']) assert.equal(postgresUrlFromSqlAlchemy(other), null);
});

test('a missing or foreign URL and a bad Fernet key stop startup with the key path and without the secret', () => {
  const ctx = (env: NodeJS.ProcessEnv) => ({ baseDir: '/tmp', env, logger: pino({ level: 'silent' }) });
  const base = { type: 'airflow_metastore', sql_alchemy_conn_env: 'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN', fernet_key_env: 'AIRFLOW__CORE__FERNET_KEY', pool_size: 1, statement_timeout_seconds: 1, connect_timeout_seconds: 1 };
  const fails = (options: Record<string, unknown>, env: NodeJS.ProcessEnv, key: RegExp) =>
    assert.throws(() => createBackend({ ...base, ...options }, ctx(env)), (e: Error) => e instanceof ConfigError && key.test(e.message) && !e.message.includes('hunter2'));
  fails({}, {}, /sql_alchemy_conn: is not set/);
  fails({ sql_alchemy_conn: 'mysql://root:hunter2@h/db' }, {}, /must be a PostgreSQL URL/);
  fails({}, { AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: 'postgresql://u@127.0.0.1/db', AIRFLOW__CORE__FERNET_KEY: 'hunter2' }, /fernet_key/);
  fails({ sql_alchemy_conn: 'postgresql://u@127.0.0.1/db', fernet_key_file: './no-such-key-file' }, {}, /fernet_key_file: cannot be read/);
});
