// A real PostgreSQL server: initdb into a temp dir, started on a free
// 127.0.0.1 port with its unix socket in the temp dir, trust auth, one database.
// As root it runs as the `postgres` user (initdb refuses root); the temp dir is
// owned by that user.
import { readFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import {
  LOOPBACK,
  freePort,
  makeTempDir,
  removeDir,
  spawnManaged,
  systemTool,
  userIds,
  waitPortFree,
  waitReady,
} from './common.ts';
import type { ManagedProcess, RunAs } from './common.ts';

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** postgresql://postgres@127.0.0.1:PORT/DB */
  readonly url: string;
  /** Directory holding the unix socket. */
  readonly socketDir: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  /** Run SQL through psql (-v ON_ERROR_STOP=1, unaligned, tuples only); returns stdout. */
  psql(sql: string, database?: string): Promise<string>;
  /** Create another database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT); restart() brings it back on the same port with the same data. */
  stop(): Promise<void>;
  /** SIGKILL the postmaster, as a crash would (restart() runs crash recovery). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Stop and remove the temp dir. */
  dispose(): Promise<void>;
}

export interface StartPostgresOptions {
  port?: number;
  database?: string;
  timeoutMs?: number;
}

/** Directory of the PostgreSQL server binaries (initdb, postgres, psql). PG_BIN overrides. */
export function postgresBinDir(): string {
  const env = process.env['PG_BIN'];
  if (env !== undefined && existsSync(join(env, 'initdb'))) return env;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(base, versions[0], 'bin');
  }
  const initdb = systemTool('initdb');
  return initdb.slice(0, initdb.lastIndexOf('/'));
}

function runAsUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { user: process.env['PG_RUN_AS'] ?? 'postgres' };
}

function runSync(cmd: string, args: string[], runAs: RunAs | undefined, cwd: string): { status: number | null; out: string } {
  const [file, argv] =
    runAs === undefined
      ? [cmd, args]
      : [systemTool('setpriv'), ['--reuid', runAs.user, '--regid', runAs.user, '--init-groups', '--', cmd, ...args]];
  const r = spawnSync(file, argv, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const runAs = runAsUser();
  const owner = runAs === undefined ? undefined : userIds(runAs.user);
  const port = opts.port ?? (await freePort());
  const database = opts.database ?? 'airflow';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const user = 'postgres';
  const dir = makeTempDir('postgres', owner);
  const dataDir = join(dir, 'data');
  const psqlBin = join(bin, 'psql');

  const init = runSync(
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', user, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    runAs,
    dir,
  );
  if (init.status !== 0) {
    removeDir(dir);
    throw new Error(`initdb failed (status ${init.status}):\n${init.out.slice(-4000)}`);
  }
  // Loopback only; trust only for local/loopback connections.
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    'local all all trust\nhost all all 127.0.0.1/32 trust\n',
  );
  if (owner !== undefined) chownSync(join(dataDir, 'pg_hba.conf'), owner.uid, owner.gid);

  let proc: ManagedProcess | undefined;
  let runs = 0;

  const psql = async (sql: string, db = database): Promise<string> =>
    await new Promise<string>((res, rej) => {
      const c = spawn(
        psqlBin,
        ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-h', LOOPBACK, '-p', String(port), '-U', user, '-d', db, '-c', sql],
        { env: { ...process.env, PGCONNECT_TIMEOUT: '2' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      c.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
      c.once('error', rej);
      c.once('close', (code) => (code === 0 ? res(out) : rej(new Error(`psql exited ${code}: ${err.trim()}`))));
    });

  // After a SIGKILL of the postmaster its orphaned backends need a moment to
  // notice and exit; until then a new postmaster refuses the old shared memory.
  const launch = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await launchOnce();
        return;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (attempt >= 50 || !/shared memory block is still in use|could not bind|Address already in use/.test(msg)) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  const launchOnce = async (): Promise<void> => {
    runs += 1;
    const p = spawnManaged(
      join(bin, 'postgres'),
      [
        '-D', dataDir,
        '-p', String(port),
        '-k', dir,
        '-c', `listen_addresses=${LOOPBACK}`,
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=50',
        '-c', 'shared_buffers=32MB',
        '-c', 'logging_collector=off',
      ],
      { cwd: dir, logFile: join(dir, `postgres-${runs}.log`), ...(runAs ? { runAs } : {}) },
    );
    proc = p;
    await waitReady('postgres', p, async () => (await psql('SELECT 1', 'postgres')).trim() === '1', timeoutMs, 50);
  };

  try {
    await launch();
    if (database !== 'postgres') await psql(`CREATE DATABASE "${database}"`, 'postgres');
  } catch (e) {
    await proc?.kill();
    removeDir(dir);
    throw e;
  }

  const urlFor = (db: string): string => `postgresql://${user}@${LOOPBACK}:${port}/${encodeURIComponent(db)}`;

  const handle: PostgresServer = {
    host: LOOPBACK,
    port,
    user,
    database,
    url: urlFor(database),
    socketDir: dir,
    dataDir,
    get pid() {
      return proc?.child.pid;
    },
    psql,
    createDatabase: async (name: string) => {
      await psql(`CREATE DATABASE "${name.replaceAll('"', '""')}"`, 'postgres');
      return urlFor(name);
    },
    // SIGINT = PostgreSQL "fast shutdown".
    stop: async () => {
      await proc?.stop(10_000, 'SIGINT');
      await waitPortFree(port);
    },
    kill: async () => {
      // The postmaster's children outlive it for a moment and keep its shared memory attached; a
      // restart before they are gone fails ("pre-existing shared memory block is still in use").
      const children = childPids(proc?.child.pid);
      await proc?.kill();
      await waitPortFree(port);
      await waitGone(children, 10_000);
    },
    restart: async () => {
      await handle.stop();
      await launch();
    },
    dispose: async () => {
      await handle.stop();
      removeDir(dir);
    },
  };
  return handle;
}

/** The direct children of a process (from /proc), so a crash test can wait for them to exit. */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };
  const end = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > end) throw new Error(`postgres children ${pids.filter(alive).join(', ')} still alive after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Airflow 3.3.2's `connection` and `variable` tables, as its models create them on PostgreSQL
 * (CreateTable(Connection.__table__) and Variable's), without the foreign key to `team`: what the
 * airflow_metastore backend reads and writes, for tests that need no `airflow db migrate`.
 */
export async function createAirflowSecretTables(pg: PostgresServer): Promise<void> {
  await pg.psql(`
    CREATE TABLE connection (id SERIAL NOT NULL, conn_id VARCHAR(250) NOT NULL, conn_type VARCHAR(500) NOT NULL, description TEXT,
      host VARCHAR(500), schema VARCHAR(500), login TEXT, port INTEGER, team_name VARCHAR(50), password TEXT, extra TEXT,
      is_encrypted BOOLEAN NOT NULL, is_extra_encrypted BOOLEAN NOT NULL,
      CONSTRAINT connection_pkey PRIMARY KEY (id), CONSTRAINT connection_conn_id_uq UNIQUE (conn_id));
    CREATE TABLE variable (id SERIAL NOT NULL, key VARCHAR(250) NOT NULL, val TEXT NOT NULL, description TEXT, is_encrypted BOOLEAN NOT NULL,
      team_name VARCHAR(50), CONSTRAINT variable_pkey PRIMARY KEY (id), CONSTRAINT variable_key_uq UNIQUE (key));`);
}
