// Airflow's LocalFilesystemBackend (spec §5): connections, variables and config
// from .env, .json, .yaml or .yml files, with Airflow's formats and error
// messages (parsing lives in airflow/local-filesystem-format.ts). Airflow
// re-parses the files on every lookup; the gateway re-parses them when they
// change, and after a bad edit keeps serving the last content that parsed,
// reporting the error in /readyz and the log instead of failing every lookup.
import path from 'node:path';
import type { Connection } from '../../airflow/connection.ts';
import { pyToPlain } from '../../airflow/python-json.ts';
import { parseConfigFile, parseConnectionsFile, parseVariablesFile } from '../../airflow/local-filesystem-format.ts';
import type { BackendContext, CreateBackend } from '../descriptor.ts';
import { BackendError, FileLoadError, type BackendStatus, type Found, type SecretKind, type SecretsBackend, type VariableValue } from '../types.ts';
import { WatchedFile } from './watched-file.ts';

type Files = {
  connection?: WatchedFile<Map<string, Connection>>;
  variable?: WatchedFile<Map<string, unknown>>;
  config?: WatchedFile<Map<string, unknown>>;
};

export class LocalFilesystemBackend implements SecretsBackend {
  readonly type = 'local_filesystem';
  readonly name: string;
  private readonly files: Files = {};

  constructor(name: string, paths: Partial<Record<SecretKind, string | null | undefined>>, pollIntervalMs: number, ctx: BackendContext) {
    this.name = name;
    const logger = ctx.logger.child({ backend: name });
    const make = <T>(p: string, parse: (f: string, c: string) => T) =>
      new WatchedFile<T>({ filePath: path.resolve(ctx.baseDir, p), parse, logger, pollIntervalMs });
    if (paths.connection) this.files.connection = make(paths.connection, parseConnectionsFile);
    if (paths.variable) this.files.variable = make(paths.variable, parseVariablesFile);
    if (paths.config) this.files.config = make(paths.config, parseConfigFile);
  }

  serves(kind: SecretKind): boolean {
    // A missing *_file_path kwarg means "no data" in Airflow: the kind simply has no entries.
    return this.files[kind] !== undefined;
  }

  async init(): Promise<void> {
    await Promise.all(Object.values(this.files).map((f) => f.start()));
  }

  /** Fires when any file's parsed content changes (the cache uses this instead of a TTL). */
  onChange(listener: () => void): void {
    for (const f of Object.values(this.files)) f.on('change', listener);
  }

  status(): BackendStatus {
    const watched = Object.values(this.files);
    const failing = watched.find((f) => f.error() !== undefined);
    if (!failing) return { state: 'ready' };
    const error = failing.error()!;
    const anyUnloaded = watched.some((f) => f.current() === undefined);
    return { state: anyUnloaded ? 'failed' : 'degraded', error };
  }

  private entries<T>(file: WatchedFile<Map<string, T>> | undefined): Map<string, T> | null {
    if (!file) return null;
    const current = file.current();
    if (current === undefined) {
      const error = file.error();
      throw new FileLoadError(error?.code ?? 'not_loaded', `${this.name}: ${error?.message ?? 'file not loaded'}`);
    }
    return current;
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    const value = this.entries(this.files.connection)?.get(connId);
    return value ? { value } : null;
  }

  async getVariable(key: string): Promise<Found<VariableValue> | null> {
    return this.plainValue(this.entries(this.files.variable)?.get(key));
  }

  async getConfig(key: string): Promise<Found<VariableValue> | null> {
    return this.plainValue(this.entries(this.files.config)?.get(key));
  }

  /** Strings as they are; other JSON/YAML values (Airflow returns them as-is) as plain JSON values. */
  private plainValue(value: unknown): Found<VariableValue> | null {
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') return { value };
    const plain = pyToPlain(value);
    try {
      JSON.stringify(plain);
    } catch {
      // e.g. an integer beyond 2^53: Airflow has it as a Python int, JSON over HTTP cannot carry it exactly.
      throw new BackendError('invalid_value', `${this.name}: a stored value cannot be represented as JSON`);
    }
    return { value: plain as VariableValue };
  }

  async close(): Promise<void> {
    for (const f of Object.values(this.files)) f.close();
  }
}

export const createBackend: CreateBackend = (options, ctx) =>
    new LocalFilesystemBackend(
      options.name ?? 'local_filesystem',
      {
        connection: options.connections_file_path as string | null | undefined,
        variable: options.variables_file_path as string | null | undefined,
        config: options.configs_file_path as string | null | undefined,
      },
      Number(options.poll_interval_seconds) * 1000,
      ctx,
    );
