// Real Airflow from the tests: the venv's commands (AIRFLOW_PYTHON, which test/run-all.sh sets after
// provisioning .venv/airflow), the environment of an Airflow home, and a command run to its end.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PostgresServer } from './servers/postgres.ts';

export const AIRFLOW_PYTHON = process.env['AIRFLOW_PYTHON'];
export const AIRFLOW_BIN = AIRFLOW_PYTHON ? path.join(path.dirname(AIRFLOW_PYTHON), 'airflow') : '';
/** This checkout's Python client, which the tests put first on PYTHONPATH (not the venv's installed copy). */
export const CLIENT_SRC = fileURLToPath(new URL('../../clients/airflow/src', import.meta.url));
/** The `skip` of a test that needs Airflow. */
export const AIRFLOW_SKIP = AIRFLOW_PYTHON ? false : 'AIRFLOW_PYTHON is not set (test/run-all.sh sets it after provisioning .venv/airflow)';

/** The environment of an Airflow home run by `python`'s venv (no examples, no bytecode, this checkout's client), plus `extra`. */
export function airflowHomeEnv(python: string, home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(python)}:${process.env['PATH'] ?? ''}`,
    HOME: home,
    LANG: 'C.UTF-8',
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONPATH: CLIENT_SRC,
    ...extra,
  };
}

/** Airflow's sql_alchemy_conn for a test PostgreSQL database. */
export const sqlAlchemyConn = (pg: PostgresServer): string => `postgresql+psycopg2://${pg.user}@${pg.host}:${pg.port}/${pg.database}`;

export interface CommandRun {
  stdout: string;
  stderr: string;
  /** The exit status, or the signal that ended it. */
  code: number | string;
}

/** Runs a command to its end, whatever its exit status (killed after `timeoutMs`). */
export function runCommand(file: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? String(signal) });
    });
  });
}

/** runCommand, failing unless it exits 0, with the tail of its output (`hide`'s values masked: they may be secrets). */
export async function runCommandOk(file: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; hide?: string[] }): Promise<CommandRun> {
  const done = await runCommand(file, args, options);
  if (done.code === 0) return done;
  let tail = `${done.stdout}\n${done.stderr}`.slice(-4000);
  for (const value of options.hide ?? []) tail = tail.replaceAll(value, '***');
  throw new Error(`${path.basename(file)} ${args.slice(0, 2).join(' ')} exited ${done.code}:\n${tail}`);
}
