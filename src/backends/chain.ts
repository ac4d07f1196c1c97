// The ordered chain of backends, resolved as Airflow resolves it (spec §2):
// connections take the first truthy answer, variables and config the first
// non-null one; a backend that throws is skipped. Unlike Airflow, a miss is only
// reported as "not found" when every backend answered: if any failed, the answer
// is backend_unavailable, because "not found" would be a guess.
import type { Logger } from 'pino';
import { backendUnavailable, type FailedBackend } from '../errors.ts';
import type { BackendOperation, GatewayMetrics } from '../metrics.ts';
import { compileLookupPattern, type LookupPattern } from './lookup-pattern.ts';
import type { BackendReport, Resolved } from '../secrets.ts';
import { askBackend, BackendError, backendErrorCode, type BackendValue, type Found, type SecretKind, type SecretsBackend } from './types.ts';

/** An answer the chain counts as a hit: a Found whose value is neither null nor undefined (Airflow's "is not None"). */
const isFound = <T>(found: Found<T> | null): found is Found<T> => found !== null && found.value !== null && found.value !== undefined;

export interface ChainLink {
  backend: SecretsBackend;
  /** Per kind: whether this id may be asked of this backend (kind turned on, and its lookup pattern matches). */
  patterns: Record<SecretKind, LookupPattern>;
}

const NEVER: LookupPattern = () => false;
const KIND_OPTION: Record<SecretKind, 'connections' | 'variables' | 'config'> = { connection: 'connections', variable: 'variables', config: 'config' };

export type { BackendReport, Resolved } from '../secrets.ts';

/** One backend's answer in a resolution (GET .../resolution): never a value. */
export interface ResolutionStep {
  backend: string;
  type: string;
  /** skipped: this backend is not asked for this id (kind off, or its lookup pattern does not match). */
  answer: 'found' | 'not_found' | 'error' | 'skipped';
  /** The version identity (the backend's, or the HMAC of the value that X-Secret-Version shows). */
  version?: string;
  expires?: string;
  code?: string;
  wins: boolean;
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

const OPERATIONS: Record<SecretKind, BackendOperation> = { connection: 'get_connection', variable: 'get_variable', config: 'get_config' };

export class BackendChain {
  readonly links: readonly ChainLink[];
  private readonly logger: Logger;
  private readonly metrics: GatewayMetrics | undefined;

  constructor(links: ChainLink[], logger: Logger, metrics?: GatewayMetrics) {
    this.links = links;
    this.logger = logger;
    this.metrics = metrics;
  }

  /** Runs one backend call, counting it and timing it by backend and operation. */
  private async measured<R>(backend: SecretsBackend, operation: BackendOperation, call: () => Promise<R | null>): Promise<R | null> {
    const stopTimer = this.metrics?.backendDuration.startTimer({ backend: backend.name, operation });
    try {
      const result = await call();
      // A Found whose value is null is a miss to the chain, so it is one here too.
      const missing = result === null || (operation !== 'get_version' && (result as { value?: unknown }).value == null);
      this.metrics?.backendRequests.inc({ backend: backend.name, operation, outcome: missing ? 'not_found' : 'found' });
      this.metrics?.backendLastSuccess.set({ backend: backend.name }, Date.now() / 1000);
      return result;
    } catch (err) {
      this.metrics?.backendRequests.inc({ backend: backend.name, operation, outcome: 'error' });
      throw err;
    } finally {
      stopTimer?.();
    }
  }

  /** The backend writes go to (writes.target), whose shadowing by an earlier backend is counted at read time. */
  writeTarget: string | undefined;

  /** The backends the chain would ask for this id, in order. */
  private candidates(kind: SecretKind, id: string): SecretsBackend[] {
    return this.links.filter(({ backend, patterns }) => backend.serves(kind) && patterns[kind](id)).map((l) => l.backend);
  }

  /**
   * The backend that can confirm a cached answer from `source` by version alone: only when it is
   * the first backend the chain asks for this id (so no earlier backend could now shadow it) and it
   * offers getVersion. Otherwise undefined, and the caller does a full lookup.
   */
  versionedSource(kind: SecretKind, id: string, source: string): string | undefined {
    const first = this.candidates(kind, id)[0];
    return first && first.name === source && typeof first.getVersion === 'function' ? first.name : undefined;
  }

  /** The current version of a secret at `source` (see versionedSource); null when it is gone.
   * A failing backend is reported as backend_unavailable, as a failed lookup would be. */
  async currentVersion(kind: SecretKind, id: string, source: string): Promise<string | null> {
    const backend = this.links.find((l) => l.backend.name === source)?.backend;
    if (!backend?.getVersion) return null;
    try {
      return await this.measured(backend, 'get_version', () => backend.getVersion!(kind, id));
    } catch (err) {
      const code = backendErrorCode(err);
      this.logger.warn({ backend: backend.name, kind, id, err_code: code }, 'backend failed a version check');
      throw backendUnavailable([{ name: backend.name, code }]);
    }
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

  /** The answer for this id: the first backend in chain order that has it, with its name; null when
   * every backend asked answered "not here"; backend_unavailable when none had it and one failed. */
  async resolve<K extends SecretKind>(kind: K, id: string): Promise<Resolved<BackendValue[K]> | null> {
    const failed: FailedBackend[] = [];
    const candidates = this.candidates(kind, id);
    for (const backend of candidates) {
      let found: Found<BackendValue[K]> | null;
      try {
        found = await this.measured(backend, OPERATIONS[kind], () => askBackend(backend, kind, id));
      } catch (err) {
        const code = backendErrorCode(err);
        // BackendError messages are ours and never hold a value; other errors are reported by name only.
        this.logger.warn(
          { backend: backend.name, kind, id, err_code: code, err_message: err instanceof BackendError ? err.message : undefined, err_name: (err as Error)?.name },
          'backend failed; trying the next one',
        );
        failed.push({ name: backend.name, code });
        continue;
      }
      // Connections: the first truthy answer wins. Variables and config: the first non-null one ("" is a value).
      if (isFound(found)) {
        this.probeShadowed(kind, id, backend, candidates);
        return { ...found, source: backend.name };
      }
    }
    if (failed.length > 0) throw backendUnavailable(failed);
    return null;
  }

  /** Every backend in chain order with its answer for this id (all asked at once), and the one that wins. */
  async explain(kind: SecretKind, id: string, identity: (value: unknown) => string): Promise<ResolutionStep[]> {
    const asked = new Set(this.candidates(kind, id));
    const steps = await Promise.all(
      this.links.map(async ({ backend }): Promise<ResolutionStep> => {
        const step = { backend: backend.name, type: backend.type, wins: false };
        if (!asked.has(backend)) return { ...step, answer: 'skipped' };
        try {
          const found = await this.measured(backend, OPERATIONS[kind], () => askBackend(backend, kind, id));
          if (!isFound(found)) return { ...step, answer: 'not_found' };
          return { ...step, answer: 'found', version: found.version ?? identity(found.value), ...(found.expires ? { expires: found.expires } : {}) };
        } catch (err) {
          return { ...step, answer: 'error', code: backendErrorCode(err) };
        }
      }),
    );
    const winner = steps.find((s) => s.answer === 'found');
    if (winner) winner.wins = true;
    return steps;
  }

  /** The first backend before `target` in the chain that has this id (so shadows a write there), or null. */
  async shadowing(kind: SecretKind, id: string, target: string): Promise<string | null> {
    for (const backend of this.candidates(kind, id)) {
      if (backend.name === target) return null;
      try {
        if (await this.hasId(backend, kind, id)) return backend.name;
      } catch (err) {
        // Cannot tell: a failed backend is skipped at read time too, so it does not shadow now.
        this.logger.warn({ backend: backend.name, kind, id, err_code: backendErrorCode(err) }, 'backend failed a shadowing check');
      }
    }
    return null;
  }

  private async hasId(backend: SecretsBackend, kind: SecretKind, id: string): Promise<boolean> {
    const found = await this.measured(backend, OPERATIONS[kind], () => askBackend(backend, kind, id));
    return isFound(found);
  }

  /** After a lookup won at `winner`: does the write target, later in the chain, hold the id too? Counted, never awaited. */
  private probeShadowed(kind: SecretKind, id: string, winner: SecretsBackend, candidates: SecretsBackend[]): void {
    const targetName = this.writeTarget;
    if (!targetName || !this.metrics || winner.name === targetName) return;
    const target = candidates.slice(candidates.indexOf(winner) + 1).find((b) => b.name === targetName);
    if (!target) return;
    this.hasId(target, kind, id).then(
      (shadowed) => {
        if (shadowed) this.metrics!.shadowedReads.inc({ kind, backend: winner.name, shadowed: target.name });
      },
      () => undefined,
    );
  }
}
