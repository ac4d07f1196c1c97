// An Airflow-like workload: N workers, each starting a task every `taskIntervalSeconds`
// (workers spread over `phaseGroups` start times, so several start at the same instant),
// each task looking up the connections and variables of its DAG, plus one variable that
// exists nowhere (Variable.get(key, default_var=...) of a feature flag). Deterministic:
// the same parameters give the same trace.
import type { Kind, Placement, Rotation, TraceLookup } from './airflow-model.ts';

export interface WorkloadParams {
  workers: number;
  dags: number;
  taskIntervalSeconds: number;
  phaseGroups: number;
  /** Simulated length of the run. */
  durationSeconds: number;
  connectionsPerTask: number;
  variablesPerTask: number;
  /** Sizes of the key pools the DAGs draw from. */
  connectionPool: number;
  variablePool: number;
  missingPool: number;
  /** Connections [0, connectionsInFirst) are in the first backend, the rest in the second; every variable is in the second. */
  connectionsInFirst: number;
}

export const connectionId = (i: number): string => `bench_conn_${String(i).padStart(3, '0')}`;
export const variableKey = (i: number): string => `bench_var_${String(i).padStart(3, '0')}`;
export const missingKey = (i: number): string => `bench_flag_${String(i).padStart(3, '0')}`;

export interface Workload {
  params: WorkloadParams;
  trace: TraceLookup[];
  /** The distinct start times, in order: the simulation advances its clock to each. */
  instants: number[];
  rotations: Rotation[];
  placement: Placement;
}

export function airflowLikeWorkload(params: WorkloadParams): Workload {
  const trace: TraceLookup[] = [];
  for (let w = 0; w < params.workers; w++) {
    const dag = w % params.dags;
    const phase = ((w % params.phaseGroups) * params.taskIntervalSeconds) / params.phaseGroups;
    for (let t = phase; t < params.durationSeconds; t += params.taskIntervalSeconds) {
      for (let j = 0; j < params.connectionsPerTask; j++) trace.push({ t, worker: w, kind: 'connection', id: connectionId((dag + j) % params.connectionPool) });
      for (let j = 0; j < params.variablesPerTask; j++) trace.push({ t, worker: w, kind: 'variable', id: variableKey((dag * 2 + j) % params.variablePool) });
      trace.push({ t, worker: w, kind: 'variable', id: missingKey(dag % params.missingPool) });
    }
  }
  trace.sort((a, b) => a.t - b.t || a.worker - b.worker);
  const instants = [...new Set(trace.map((l) => l.t))];
  // One rotation in the middle: a connection in the first backend and a variable in the second.
  const middle = instants.find((t) => t >= params.durationSeconds / 2) ?? 0;
  const rotateAt = middle - params.taskIntervalSeconds / params.phaseGroups / 2;
  const rotations: Rotation[] = [
    { t: rotateAt, kind: 'connection', id: connectionId(0) },
    { t: rotateAt, kind: 'variable', id: variableKey(0) },
  ];
  const placement: Placement = (kind: Kind, id: string) => {
    if (kind === 'connection') {
      const i = Number(id.slice('bench_conn_'.length));
      return i < params.connectionsInFirst ? 0 : 1;
    }
    return id.startsWith('bench_var_') ? 1 : null;
  };
  return { params, trace, instants, rotations, placement };
}
