// Airflow's EnvironmentVariablesBackend (spec §4): AIRFLOW_CONN_<ID.upper()> and
// AIRFLOW_VAR_<KEY.upper()>, read at lookup time like os.environ.get. Only upper()
// is applied, so ids that differ only in case share one variable.
import type { Connection } from '../../airflow/connection.ts';
import type { CreateBackend } from '../descriptor.ts';
import type { BackendStatus, Found, SecretKind, SecretsBackend } from '../types.ts';
import { connectionFrom } from '../values.ts';

export class EnvironmentVariablesBackend implements SecretsBackend {
  readonly type = 'environment';
  readonly name: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(name: string, env: NodeJS.ProcessEnv) {
    this.name = name;
    this.env = env;
  }

  serves(kind: SecretKind): boolean {
    // Airflow's backend has no get_config: config lookups always fall through it.
    return kind !== 'config';
  }

  async init(): Promise<void> {}

  status(): BackendStatus {
    return { state: 'ready' };
  }

  async getConnection(connId: string): Promise<Found<Connection> | null> {
    const value = this.env[`AIRFLOW_CONN_${connId.toUpperCase()}`];
    return connectionFrom(this.name, connId, value === undefined ? null : { value });
  }

  async getVariable(key: string): Promise<Found<string> | null> {
    // "" is a value; only a missing variable is a miss.
    const value = this.env[`AIRFLOW_VAR_${key.toUpperCase()}`];
    return value === undefined ? null : { value };
  }

  async getConfig(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {}
}

export const createBackend: CreateBackend = (options, ctx) => new EnvironmentVariablesBackend(options.name ?? 'environment', ctx.env);

