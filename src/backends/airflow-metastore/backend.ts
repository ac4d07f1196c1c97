// Airflow's MetastoreBackend (airflow/secrets/metastore.py): connections and
// variables from the `connection` and `variable` tables of an Airflow metadata
// database on PostgreSQL, with Fernet-encrypted fields decrypted as
// airflow/models/crypto.py does (FernetFieldsMixin, Variable.get_val). Sessions default
// to read-only transactions, so a reader needs only SELECT on the two tables; with
// `writable: true` the write API runs explicit READ WRITE transactions, and the role
// needs INSERT, UPDATE and DELETE too (docs/backends.md).
//
// Airflow's query is `conn_id == :id AND (team_name == :team OR team_name IS NULL)`;
// the gateway has no team, so rows that belong to a team are never served (the
// column exists from Airflow 3.1; older schemas have no team filter).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
// pg is loaded by init(), only when this backend is configured (what every start would pay otherwise:
// see bench/optimization-log.md, "Figures quoted in code comments").
import type { Pool, QueryResultRow } from 'pg';
import type { Logger } from 'pino';
import type { Connection } from '../../airflow/connection.ts';
import type { PoolClient } from 'pg';
import { FernetError, MultiFernet } from '../../airflow/fernet.ts';
import { ConfigError } from '../../config/errors.ts';
import type { CreateBackend } from '../descriptor.ts';
import { BackendError, type BackendStatus, type Current, type Found, type SecretKind, type SecretsBackend, type WriteValue } from '../types.ts';

const POSTGRES_URL = /^postgres(?:ql)?(?:\+[A-Za-z0-9_]+)?:\/\//;

/** SQLAlchemy's `postgresql+driver://` to the libpq URL node-postgres reads. */
export function postgresUrlFromSqlAlchemy(url: string): string | null {
  const m = POSTGRES_URL.exec(url.trim());
  return m ? `postgresql://${url.trim().slice(m[0].length)}` : null;
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

interface Tables {
  connection: string;
  variable: string;
  teamFilter: { connection: boolean; variable: boolean };
}

/** The columns of Airflow's `connection` table that a lookup reads. */
interface ConnectionRow {
  conn_type: string | null;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  password: string | null;
  port: number | null;
  extra: string | null;
  is_encrypted: boolean | null;
  is_extra_encrypted: boolean | null;
}

/** Airflow's [core] fernet_key, from a file (re-read when it changes) or an environment variable. */
class FernetKeySource {
  private keys: MultiFernet | null;
  private readonly file: string | undefined;
  private fileStamp = '';

  constructor(file: string | undefined, envValue: string | undefined, at: string) {
    this.file = file;
    const text = file === undefined ? envValue : this.readFile(at);
    this.keys = FernetKeySource.parse(text, at);
  }

  private readFile(at: string): string {
    try {
      const st = statSync(this.file!);
      this.fileStamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      return readFileSync(this.file!, 'utf8');
    } catch (e) {
      throw new ConfigError(`${at}.fernet_key_file`, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  private static parse(text: string | undefined, at: string): MultiFernet | null {
    // Airflow: an empty key means values are stored and read unencrypted (_NullFernet).
    if (text === undefined || text.trim() === '') return null;
    try {
      return new MultiFernet(text.trim());
    } catch (e) {
      throw new ConfigError(`${at}.fernet_key`, e instanceof FernetError ? e.message : 'is not a valid Fernet key list');
    }
  }

  current(): MultiFernet | null {
    return this.keys;
  }

  /** After a decryption failure: re-reads the key file if it changed. True when the keys changed. */
  reloadIfChanged(logger: Logger): boolean {
    if (this.file === undefined) return false;
    try {
      const st = statSync(this.file);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp === this.fileStamp) return false;
      const keys = FernetKeySource.parse(this.readFile('fernet'), 'fernet');
      this.keys = keys;
      logger.info({ keys: keys?.keyCount ?? 0 }, 'Fernet key file changed; keys reloaded');
      return true;
    } catch (e) {
      logger.warn({ error: e instanceof ConfigError ? e.message : 'unreadable' }, 'Fernet key file changed but cannot be used; keeping the previous keys');
      return false;
    }
  }
}

export class AirflowMetastoreBackend implements SecretsBackend {
  readonly type = 'airflow_metastore';
  readonly name: string;
  /** Made by init(). */
  private pool: Pool | undefined;
  private readonly poolOptions: ConstructorParameters<typeof Pool>[0];
  private readonly schema: string | undefined;
  private readonly fernet: FernetKeySource;
  private readonly logger: Logger;
  private tables: Tables | undefined;
  /** The connection lookups of this event-loop turn, not yet sent (see connectionRows). */
  private connectionBatch: { ids: Set<string>; rows: Promise<Map<string, ConnectionRow>> } | undefined;
  private lastError: { code: string; message: string } | undefined;

  constructor(name: string, options: { url: string; schema?: string; fernet: FernetKeySource; poolSize: number; statementTimeoutMs: number; connectTimeoutMs: number }, logger: Logger) {
    this.name = name;
    this.schema = options.schema;
    this.fernet = options.fernet;
    this.logger = logger;
    this.poolOptions = {
      connectionString: options.url,
      max: options.poolSize,
      statement_timeout: options.statementTimeoutMs,
      query_timeout: options.statementTimeoutMs + 1000,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'secrets-gateway',
      // Defence in depth besides the read-only role: no statement on these sessions can write.
      // (An `options` parameter in the URL replaces this one.)
      options: '-c default_transaction_read_only=on',
    };
  }

  serves(kind: SecretKind): boolean {
    // MetastoreBackend has no get_config.
    return kind !== 'config';
  }

  async init(): Promise<void> {
    const { default: pg } = await import('pg');
    this.pool = new pg.Pool(this.poolOptions);
    // An idle client's error (e.g. the server restarted) must not crash the process.
    this.pool.on('error', (err) => this.logger.warn({ code: (err as { code?: string }).code }, 'idle database connection failed'));
    try {
      await this.resolveTables();
    } catch {
      // status() reports it; lookups retry.
    }
  }

  status(): BackendStatus {
    // Failed until the tables were found once; after that a failing database is degraded
    // (the chain still answers from the other backends) until a query succeeds again.
    if (!this.lastError) return { state: this.tables ? 'ready' : 'initialising' };
    return { state: this.tables ? 'degraded' : 'failed', error: this.lastError };
  }

  private async query<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      if (!this.pool) throw new Error('airflow_metastore: init() has not run');
      const result = await this.pool.query<R>(sql, params);
      this.lastError = undefined;
      return result.rows;
    } catch (e) {
      // The driver's message may name the host or user; the code (SQLSTATE or errno) is enough.
      const code = String((e as { code?: unknown }).code ?? 'error');
      this.lastError = { code: 'database_unavailable', message: `${this.name}: the metadata database query failed (${code})` };
      this.logger.warn({ code }, 'metadata database query failed');
      throw new BackendError('database_unavailable', this.lastError.message, { cause: e });
    }
  }

  /** Which schema holds the tables, and whether they have Airflow 3's team_name column. */
  private async resolveTables(): Promise<Tables> {
    if (this.tables) return this.tables;
    const rows = await this.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = COALESCE($1, current_schema()) AND table_name IN ('connection', 'variable')`,
      [this.schema ?? null],
    );
    const columns = (table: string) => new Set(rows.filter((r) => r.table_name === table).map((r) => r.column_name));
    const conn = columns('connection');
    const vars = columns('variable');
    if (conn.size === 0 || vars.size === 0) {
      this.lastError = { code: 'schema_missing', message: `${this.name}: the connection and variable tables are not there (run airflow db migrate)` };
      throw new BackendError('schema_missing', this.lastError.message);
    }
    const prefix = this.schema === undefined ? '' : `${quoteIdent(this.schema)}.`;
    this.tables = {
      connection: `${prefix}connection`,
      variable: `${prefix}variable`,
      teamFilter: { connection: conn.has('team_name'), variable: vars.has('team_name') },
    };
    return this.tables;
  }

  /** FernetFieldsMixin.get_password / get_extra and Variable.get_val: decrypt only a truthy, encrypted value. */
  private decrypt(value: string | null, encrypted: boolean, field: string): string | null {
    if (!value || !encrypted) return value;
    const attempt = (): string => {
      const keys = this.fernet.current();
      if (!keys) throw new BackendError('fernet_key_missing', `${this.name}: a ${field} is encrypted but no Fernet key is configured`);
      return keys.decrypt(value);
    };
    try {
      return attempt();
    } catch (e) {
      if (!(e instanceof FernetError)) throw e;
      // A rotation may have rewritten the key file: try once more with the new keys.
      if (this.fernet.reloadIfChanged(this.logger)) {
        try {
          return attempt();
        } catch {
          // fall through to the error below
        }
      }
      throw new BackendError('decrypt_failed', `${this.name}: a ${field} cannot be decrypted with the configured Fernet keys`);
    }
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    const row = (await this.connectionRows(connId)).get(connId);
    if (!row) return null;
    return { value: this.connectionOf(connId, row) };
  }

  /** A connection row as Airflow's Connection model reads it: password and extra decrypted when marked so. */
  private connectionOf(connId: string, row: ConnectionRow): Connection {
    return {
      conn_id: connId,
      conn_type: row.conn_type,
      description: row.description,
      host: row.host,
      login: row.login,
      password: this.decrypt(row.password, row.is_encrypted === true, 'connection password'),
      schema: row.schema,
      port: row.port,
      extra: this.decrypt(row.extra, row.is_extra_encrypted === true, 'connection extra'),
    };
  }

  /**
   * The rows of the connections asked for in this event-loop turn, by the id asked, read with one
   * query: a batch lookup's 100 ids (or a herd of cold misses) cost one round trip, not 100 queued
   * on the pool, and the lookups finish together instead of holding their requests' memory while
   * they wait. Each id matches as `conn_id = :id` does (the join keeps the database's equality).
   */
  private connectionRows(connId: string): Promise<Map<string, ConnectionRow>> {
    let batch = this.connectionBatch;
    if (!batch) {
      const ids = new Set<string>();
      const rows = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.connectionBatch = undefined;
        return this.queryConnections([...ids]);
      });
      batch = this.connectionBatch = { ids, rows };
    }
    batch.ids.add(connId);
    return batch.rows;
  }

  private async queryConnections(ids: string[]): Promise<Map<string, ConnectionRow>> {
    const t = await this.resolveTables();
    const rows = await this.query<ConnectionRow & { asked: string }>(
      `SELECT asked.id AS asked, c.conn_type, c.description, c.host, c.schema, c.login, c.password, c.port, c.extra, c.is_encrypted, c.is_extra_encrypted
         FROM unnest($1::text[]) AS asked(id) JOIN ${t.connection} AS c ON c.conn_id = asked.id${t.teamFilter.connection ? ' AND c.team_name IS NULL' : ''}`,
      [ids],
    );
    const byId = new Map<string, ConnectionRow>();
    // Airflow reads one row (LIMIT 1): the first for each id.
    for (const row of rows) if (!byId.has(row.asked)) byId.set(row.asked, row);
    return byId;
  }

  async getVariable(key: string): Promise<Found<string> | null> {
    const t = await this.resolveTables();
    const rows = await this.query<{ val: string | null; is_encrypted: boolean | null }>(
      `SELECT val, is_encrypted FROM ${t.variable} WHERE key = $1${t.teamFilter.variable ? ' AND team_name IS NULL' : ''} LIMIT 1`,
      [key],
    );
    const row = rows[0];
    if (!row) return null;
    // Variable.get_val; a null value is a miss (MetastoreBackend returns None).
    const value = this.decrypt(row.val, row.is_encrypted === true, 'variable value');
    return value === null ? null : { value };
  }

  async getConfig(): Promise<null> {
    return null;
  }

  // The write API (writable: true): rows written as Airflow writes them, password, extra and a
  // variable's value Fernet-encrypted under the current (first) key with is_encrypted set, or stored
  // plain with it unset when no key is configured (Airflow's FernetFieldsMixin). Each write is one
  // READ WRITE transaction (the pool's sessions default to read-only) that locks the row and checks
  // it is still the one current() read, so a change in between fails with precondition_failed.

  async current(kind: 'connection' | 'variable', id: string): Promise<Current | null> {
    const t = await this.resolveTables();
    const rows = await this.query<Record<string, unknown>>(this.rowQuery(t, kind, false), [id]);
    return rows[0] ? this.currentOf(kind, id, rows[0]) : null;
  }

  async put(kind: 'connection' | 'variable', id: string, value: WriteValue, options: { cas: unknown }): Promise<void> {
    await this.transaction(kind, id, options.cas, async (client, t, existing) => {
      if (value.kind === 'variable') {
        const [val, encrypted] = this.encrypt(value.value);
        if (existing) await client.query(`UPDATE ${t.variable} SET val = $2, is_encrypted = $3 WHERE id = $1`, [existing.id, val, encrypted]);
        else await client.query(`INSERT INTO ${t.variable} (key, val, is_encrypted) VALUES ($1, $2, $3)`, [id, val, encrypted]);
        return;
      }
      const c = value.connection;
      const [password, isEncrypted] = this.encrypt(c.password);
      const [extra, isExtraEncrypted] = this.encrypt(c.extra);
      const fields = [c.conn_type, c.description, c.host, c.schema, c.login, password, c.port, extra, isEncrypted, isExtraEncrypted];
      if (existing) {
        await client.query(
          `UPDATE ${t.connection} SET conn_type = $2, description = $3, host = $4, schema = $5, login = $6, password = $7, port = $8, extra = $9, is_encrypted = $10, is_extra_encrypted = $11 WHERE id = $1`,
          [existing.id, ...fields],
        );
      } else {
        await client.query(
          `INSERT INTO ${t.connection} (conn_id, conn_type, description, host, schema, login, password, port, extra, is_encrypted, is_extra_encrypted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [id, ...fields],
        );
      }
    });
  }

  async delete(kind: 'connection' | 'variable', id: string, options: { cas: unknown }): Promise<boolean> {
    let deleted = false;
    await this.transaction(kind, id, options.cas ?? undefined, async (client, t, existing) => {
      if (!existing) return;
      await client.query(`DELETE FROM ${kind === 'connection' ? t.connection : t.variable} WHERE id = $1`, [existing.id]);
      deleted = true;
    });
    return deleted;
  }

  private rowQuery(t: Tables, kind: 'connection' | 'variable', lock: boolean): string {
    const team = t.teamFilter[kind] ? ' AND team_name IS NULL' : '';
    const sql =
      kind === 'connection'
        ? `SELECT id, conn_type, description, host, schema, login, password, port, extra, is_encrypted, is_extra_encrypted FROM ${t.connection} WHERE conn_id = $1${team}`
        : `SELECT id, val, is_encrypted FROM ${t.variable} WHERE key = $1${team}`;
    return `${sql} ORDER BY id LIMIT 1${lock ? ' FOR UPDATE' : ''}`;
  }

  /** The value as the reader reads it, and the row as stored (ciphertexts, not values) as its check-and-set token. */
  private currentOf(kind: 'connection' | 'variable', id: string, row: Record<string, unknown>): Current {
    const cas = JSON.stringify(row);
    if (kind === 'variable') return { value: this.decrypt(row.val as string | null, row.is_encrypted === true, 'variable value'), cas };
    const value = this.connectionOf(id, row as unknown as ConnectionRow);
    return { value, cas };
  }

  /** One READ WRITE transaction with the row locked; `cas` null: it must not exist, undefined: no check. */
  private async transaction(
    kind: 'connection' | 'variable',
    id: string,
    cas: unknown,
    change: (client: PoolClient, t: Tables, existing: { id: number } | null) => Promise<void>,
  ): Promise<void> {
    const t = await this.resolveTables();
    if (!this.pool) throw new BackendError('database_unavailable', `${this.name}: init() has not run`);
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw new BackendError('database_unavailable', `${this.name}: no database connection (${String((e as { code?: unknown }).code ?? 'error')})`);
    }
    try {
      await client.query('BEGIN READ WRITE');
      const row = (await client.query<Record<string, unknown>>(this.rowQuery(t, kind, true), [id])).rows[0];
      const unchanged = cas === undefined || (cas === null ? !row : row !== undefined && JSON.stringify(row) === cas);
      if (!unchanged) throw new BackendError('precondition_failed', `${this.name}: the row changed during the write`);
      await change(client, t, row ? { id: Number(row.id) } : null);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (e instanceof BackendError) throw e;
      const code = String((e as { code?: unknown }).code ?? 'error');
      // A unique violation: the id was created by someone else in between.
      if (code === '23505') throw new BackendError('precondition_failed', `${this.name}: the id was created during the write`);
      throw new BackendError('database_unavailable', `${this.name}: the metadata database write failed (${code})`);
    } finally {
      client.release();
    }
  }

  /** FernetFieldsMixin: a truthy value is encrypted when a key is configured. */
  private encrypt(value: string | null): [string | null, boolean] {
    const keys = this.fernet.current();
    if (!value || !keys) return [value, false];
    return [keys.encrypt(value), true];
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}

export const createBackend: CreateBackend = (options, ctx) => {
    const name = options.name ?? 'airflow_metastore';
    const at = `backends[${name}]`;
    const inline = options.sql_alchemy_conn as string | undefined;
    const envName = options.sql_alchemy_conn_env as string;
    const raw = inline ?? ctx.env[envName];
    if (!raw) throw new ConfigError(`${at}.sql_alchemy_conn`, `is not set (nor is the environment variable ${envName})`);
    const url = postgresUrlFromSqlAlchemy(raw);
    // The URL may hold a password: the error names the key, never the value.
    if (!url) throw new ConfigError(`${at}.sql_alchemy_conn`, 'must be a PostgreSQL URL (postgresql://, postgresql+psycopg2://, ...); other databases are not supported');
    const keyFile = options.fernet_key_file as string | undefined;
    const fernet = new FernetKeySource(
      keyFile === undefined ? undefined : path.resolve(ctx.baseDir, keyFile),
      ctx.env[options.fernet_key_env as string],
      at,
    );
    return new AirflowMetastoreBackend(
      name,
      {
        url,
        ...(options.sql_alchemy_schema ? { schema: options.sql_alchemy_schema as string } : {}),
        fernet,
        poolSize: Number(options.pool_size),
        statementTimeoutMs: Math.round(Number(options.statement_timeout_seconds) * 1000),
        connectTimeoutMs: Math.round(Number(options.connect_timeout_seconds) * 1000),
      },
      ctx.logger.child({ backend: name }),
    );
  };
