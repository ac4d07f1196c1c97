// The ordered chain of backends, resolved as Airflow resolves it (spec §2):
// connections take the first truthy answer, variables and config the first
// non-null one; a backend that throws is skipped. Unlike Airflow, a miss is only
// reported as "not found" when every backend answered: if any failed, the answer
// is backend_unavailable, because "not found" would be a guess.
import type { Logger } from 'pino';
import type { Connection } from '../airflow/connection.ts';
import { backendUnavailable, type FailedBackend } from '../errors.ts';
import { compileLookupPattern, type LookupPattern } from './lookup-pattern.ts';
import { BackendError, type BackendStatus, type Found, type SecretKind, type SecretsBackend, type VariableValue } from './types.ts';

export interface ChainLink {
  backend: SecretsBackend;
  /** Per kind: whether this id may be asked of this backend (kind turned on, and its lookup pattern matches). */
  patterns: Record<SecretKind, LookupPattern>;
}

const NEVER: LookupPattern = () => false;
const KIND_OPTION: Record<SecretKind, 'connections' | 'variables' | 'config'> = { connection: 'connections', variable: 'variables', config: 'config' };

export interface Resolved<T> extends Found<T> {
  /** The name of the backend that answered. */
  source: string;
}

export interface BackendReport extends BackendStatus {
  name: string;
  type: string;
}

export function chainLink(
  backend: SecretsBackend,
  options: {
    kinds?: Array<'connections' | 'variables' | 'config'>;
    connections_lookup_pattern?: string | null;
    variables_lookup_pattern?: string | null;
    config_lookup_pattern?: string | null;
  },
): ChainLink {
  const on = (kind: SecretKind) => options.kinds === undefined || options.kinds.includes(KIND_OPTION[kind]);
  return {
    backend,
    patterns: {
      connection: on('connection') ? compileLookupPattern(options.connections_lookup_pattern) : NEVER,
      variable: on('variable') ? compileLookupPattern(options.variables_lookup_pattern) : NEVER,
      config: on('config') ? compileLookupPattern(options.config_lookup_pattern) : NEVER,
    },
  };
}

type Lookup<T> = (backend: SecretsBackend, id: string) => Promise<Found<T> | null>;

const lookups = {
  connection: (b: SecretsBackend, id: string) => b.getConnection(id),
  variable: (b: SecretsBackend, id: string) => b.getVariable(id),
  config: (b: SecretsBackend, id: string) => b.getConfig(id),
} satisfies Record<SecretKind, Lookup<unknown>>;

export class BackendChain {
  readonly links: readonly ChainLink[];
  private readonly logger: Logger;

  constructor(links: ChainLink[], logger: Logger) {
    this.links = links;
    this.logger = logger;
  }

  async init(): Promise<void> {
    await Promise.all(this.links.map((l) => l.backend.init()));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.links.map((l) => l.backend.close()));
  }

  statuses(): BackendReport[] {
    return this.links.map(({ backend }) => ({ name: backend.name, type: backend.type, ...backend.status() }));
  }

  getConnection(connId: string): Promise<Resolved<Connection> | null> {
    return this.resolve('connection', connId, lookups.connection);
  }

  getVariable(key: string): Promise<Resolved<VariableValue> | null> {
    return this.resolve('variable', key, lookups.variable);
  }

  getConfig(key: string): Promise<Resolved<VariableValue> | null> {
    return this.resolve('config', key, lookups.config);
  }

  private async resolve<T>(kind: SecretKind, id: string, lookup: Lookup<T>): Promise<Resolved<T> | null> {
    const failed: FailedBackend[] = [];
    for (const { backend, patterns } of this.links) {
      if (!backend.serves(kind) || !patterns[kind](id)) continue;
      let found: Found<T> | null;
      try {
        found = await lookup(backend, id);
      } catch (err) {
        const code = err instanceof BackendError ? err.code : 'backend_error';
        // BackendError messages are ours and never hold a value; other errors are reported by name only.
        this.logger.warn(
          { backend: backend.name, kind, id, err_code: code, err_message: err instanceof BackendError ? err.message : undefined, err_name: (err as Error)?.name },
          'backend failed; trying the next one',
        );
        failed.push({ name: backend.name, code });
        continue;
      }
      // Connections: the first truthy answer wins. Variables and config: the first non-null one ("" is a value).
      if (found !== null && found.value !== null && found.value !== undefined) return { ...found, source: backend.name };
    }
    if (failed.length > 0) throw backendUnavailable(failed);
    return null;
  }
}
