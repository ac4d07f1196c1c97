// The connections an operator marked critical (`critical_connections`) are
// resolved and checked at startup and then every `connection_checks.interval_seconds`,
// so a broken database or an expired password is seen before a DAG fails at 3 a.m.
// /readyz reports a failing one (degraded or unavailable, by `on_failure`), and
// states() is what the metrics read. A state holds ids, outcomes and stage names: no secret.
import type { Logger } from 'pino';
import type { Connection } from '../airflow/connection.ts';
import { checkConnection, type StageName } from './check.ts';
import type { ConnectionChecksConfig } from '../config/schema.ts';
import { toGatewayError } from '../http/problems.ts';

export interface CriticalConnectionState {
  conn_id: string;
  ok: boolean;
  checked_at: string;
  /** Why it failed: the first failed stage, or the resolution error code (not_found, backend_unavailable). */
  failure?: StageName | string;
}

export class CriticalConnections {
  private readonly ids: readonly string[];
  private readonly config: ConnectionChecksConfig;
  private readonly resolve: (connId: string) => Promise<{ value: Connection } | null>;
  private readonly logger: Logger;
  private readonly current = new Map<string, CriticalConnectionState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(ids: readonly string[], config: ConnectionChecksConfig, resolve: (connId: string) => Promise<{ value: Connection } | null>, logger: Logger) {
    this.ids = ids;
    this.config = config;
    this.resolve = resolve;
    this.logger = logger;
  }

  /** Checks every critical connection once, then keeps checking in the background. */
  async start(): Promise<void> {
    if (this.ids.length === 0) return;
    await this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.config.interval_seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  states(): CriticalConnectionState[] {
    return this.ids.flatMap((id) => this.current.get(id) ?? []);
  }

  /** What /readyz makes of them: nothing to say, or degraded / unavailable while one fails. */
  readinessImpact(): 'none' | 'degraded' | 'unavailable' {
    if (!this.states().some((s) => !s.ok)) return 'none';
    return this.config.on_failure === 'fail' ? 'unavailable' : 'degraded';
  }

  async checkAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.checkOne(id)));
  }

  private async checkOne(connId: string): Promise<void> {
    let state: CriticalConnectionState;
    try {
      const found = await this.resolve(connId);
      if (!found) state = { conn_id: connId, ok: false, checked_at: new Date().toISOString(), failure: 'not_found' };
      else {
        const check = await checkConnection(found.value, this.config.timeout_seconds * 1000);
        const failed = check.stages.find((s) => s.status === 'failed');
        state = { conn_id: connId, ok: check.ok, checked_at: new Date().toISOString(), ...(failed ? { failure: failed.stage } : {}) };
      }
    } catch (err) {
      state = { conn_id: connId, ok: false, checked_at: new Date().toISOString(), failure: toGatewayError(err).code };
    }
    const before = this.current.get(connId);
    this.current.set(connId, state);
    if (before?.ok !== state.ok) {
      const log = state.ok ? this.logger.info.bind(this.logger) : this.logger.warn.bind(this.logger);
      log({ conn_id: connId, ok: state.ok, failure: state.failure }, state.ok ? 'critical connection passes its check' : 'critical connection fails its check');
    }
  }
}
