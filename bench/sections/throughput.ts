// Hit throughput and latency (issue 7, §1) and batch lookups (§2): a gateway process with
// access control, audit log and metrics on, every answer a cache hit, against the
// baseline process, at the same connection counts, from a separate load process.
import { measureLoad, startGateway, type GatewayEntry, type MeasuredLoad, type ServerProcess } from '../lib/processes.ts';
import { makeTempDir } from '../../test/helpers/servers/common.ts';
import { benchGatewayConfig } from '../lib/gateway-config.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Measured = MeasuredLoad;

export interface LoadShape {
  durationSeconds: number;
  warmupSeconds: number;
}

/** Ids the hit load cycles through (all cached after the warm-up). */
const HIT_KEYS = 100;
export const BATCH_CONNECTIONS = 20;
export const BATCH_VARIABLES = 20;

const connId = (i: number) => `bench_conn_${i}`;
/** The paths the hit load sends in turn on each connection. */
export const HIT_PATHS = Array.from({ length: HIT_KEYS }, (_, i) => `/v1/connections/${connId(i)}`);
const varKey = (i: number) => `bench_var_${i}`;

/** A local_filesystem store of `n` connections and `n` variables, realistic in size. */
export function localFiles(n: number): { connections: string; variables: string } {
  const connections: Record<string, unknown> = {};
  const variables: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    connections[connId(i)] = {
      conn_type: 'postgres',
      host: `db-${i}.data.internal`,
      login: 'airflow_reader',
      password: `not-a-real-password-${i}`,
      schema: 'warehouse',
      port: 5432,
      extra: { sslmode: 'require', application_name: 'airflow' },
    };
    variables[varKey(i)] = `value-of-variable-${i}`;
  }
  return { connections: JSON.stringify(connections), variables: JSON.stringify(variables) };
}

export async function startHitGateway(options: { keys?: number; log?: string; nodeFlags?: string[]; tree?: string; entry?: GatewayEntry } = {}): Promise<{ gateway: ServerProcess; token: string }> {
  const dir = makeTempDir('bench-gateway');
  const files = localFiles(options.keys ?? 1000);
  writeFileSync(join(dir, 'connections.json'), files.connections);
  writeFileSync(join(dir, 'variables.json'), files.variables);
  const { config, token } = benchGatewayConfig({
    dir,
    ...(options.log ? { log: options.log } : {}),
    backends: [{ type: 'local_filesystem', connections_file_path: 'connections.json', variables_file_path: 'variables.json' }],
  });
  const gateway = await startGateway({ config, dir, ...(options.nodeFlags ? { nodeFlags: options.nodeFlags } : {}), ...(options.tree ? { tree: options.tree } : {}), ...(options.entry ? { entry: options.entry } : {}) });
  return { gateway, token };
}

export function hitLoad(server: ServerProcess, token: string, connections: number, shape: LoadShape): Promise<Measured> {
  return measureLoad(server, {
    url: `${server.url}/v1/connections/${connId(0)}`,
    paths: HIT_PATHS,
    headers: { authorization: `Bearer ${token}` },
    connections,
    ...shape,
  });
}

export function baselineLoad(server: ServerProcess, connections: number, shape: LoadShape): Promise<Measured> {
  return measureLoad(server, { url: `${server.url}/hello`, connections, ...shape });
}

export function batchLoad(server: ServerProcess, token: string, connections: number, shape: LoadShape): Promise<Measured> {
  const body = JSON.stringify({
    connections: Array.from({ length: BATCH_CONNECTIONS }, (_, i) => connId(i)),
    variables: Array.from({ length: BATCH_VARIABLES }, (_, i) => varKey(i)),
  });
  return measureLoad(server, {
    url: `${server.url}/v1/lookup`,
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    connections,
    ...shape,
  });
}
