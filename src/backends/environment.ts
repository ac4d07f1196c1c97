// Airflow's EnvironmentVariablesBackend (spec §4): AIRFLOW_CONN_<ID.upper()> and
// AIRFLOW_VAR_<KEY.upper()>, read at lookup time like os.environ.get. Only upper()
// is applied, so ids that differ only in case share one variable.
import { deserializeConnection, type Connection } from '../airflow/connection.ts';
import type { BackendFactory } from './registry-types.ts';
import type { BackendStatus, Found, SecretKind, SecretsBackend } from './types.ts';
import { parseFailure } from './parse-failure.ts';

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
    // get_connection deserializes only a truthy value: "" means not found.
    if (!value) return null;
    try {
      return { value: deserializeConnection(connId, value) };
    } catch (err) {
      throw parseFailure(this.name, err);
    }
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

export const environmentBackend: BackendFactory = {
  type: 'environment',
  create: (options, ctx) => new EnvironmentVariablesBackend(options.name ?? 'environment', ctx.env),
};

