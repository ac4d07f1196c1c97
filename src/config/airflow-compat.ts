// When no backends are configured, build the chain Airflow itself would build
// from AIRFLOW__SECRETS__BACKEND and AIRFLOW__SECRETS__BACKEND_KWARGS: the custom
// backend first, then the environment (spec §2). Airflow's own quirk is kept:
// kwargs that are not a JSON object are logged as a warning and replaced by {}.
import type { BackendEntry } from './schema.ts';
import { ConfigError } from './errors.ts';
import { BACKENDS } from '../backends/registry.ts';

/** Airflow class paths to gateway backend types, from the backends' descriptors. */
export const AIRFLOW_BACKEND_CLASSES: ReadonlyMap<string, string> = new Map(BACKENDS.flatMap((d) => d.airflowClasses.map((c) => [c, d.type] as const)));

export interface AirflowChain {
  backends: BackendEntry[];
  warnings: string[];
}

export function airflowChainFromEnv(env: NodeJS.ProcessEnv): AirflowChain | null {
  const classPath = env.AIRFLOW__SECRETS__BACKEND?.trim();
  if (!classPath) return null;
  const type = AIRFLOW_BACKEND_CLASSES.get(classPath);
  if (!type) {
    throw new ConfigError(
      'AIRFLOW__SECRETS__BACKEND',
      `backend class "${classPath}" is not one the gateway can stand in for (known: ${[...AIRFLOW_BACKEND_CLASSES.keys()].join(', ')})`,
    );
  }
  const warnings: string[] = [];
  let kwargs: Record<string, unknown> = {};
  const raw = env.AIRFLOW__SECRETS__BACKEND_KWARGS;
  if (raw !== undefined && raw.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) kwargs = parsed as Record<string, unknown>;
      else warnings.push('AIRFLOW__SECRETS__BACKEND_KWARGS is not a JSON object; using {} as Airflow does');
    } catch {
      warnings.push('AIRFLOW__SECRETS__BACKEND_KWARGS is not valid JSON; using {} as Airflow does');
    }
  }
  const backends: BackendEntry[] = [{ ...kwargs, type }];
  if (type !== 'environment') backends.push({ type: 'environment' });
  return { backends, warnings };
}
