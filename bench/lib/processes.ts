// The processes a bench run starts: servers under test (the baseline and the gateway)
// and the load generator. Every one is a child of the bench process, started the same
// way (spawnManaged from the test harness: same Node binary, same flags, killed with
// the bench), so the baseline and the gateway run under the same process-tree conditions.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { LOOPBACK, freePort, makeTempDir, probeFetch, spawnManaged, tailFile, waitReady, type ManagedProcess } from '../../test/helpers/servers/common.ts';
import type { LoadResult, LoadSpec } from './load-types.ts';
import { imageNodeFlags, npmStartEnv } from './node-flags.ts';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));
/** The Node that runs the bench (the project's pinned Node 24) runs every child too. */
export const NODE = process.execPath;

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly proc: ManagedProcess;
  /** Resident set size now, in bytes (from /proc/<pid>/status). */
  rssBytes(): number;
  stop(): Promise<void>;
}

export function rssBytesOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Polls `url` until it answers 200 (or the process dies); returns the ms from `since`. */
export async function waitFor200(name: string, proc: ManagedProcess, url: string, headers: Record<string, string> = {}, timeoutMs = 30_000, intervalMs = 50): Promise<void> {
  await waitReady(
    name,
    proc,
    async () => {
      const r = await probeFetch(url, { headers });
      await r.body?.cancel();
      return r.status === 200;
    },
    timeoutMs,
    intervalMs,
  );
}

/** `stopSignal`: the gateway gets SIGINT, which stops it without the drain period SIGTERM gives (no load balancer to wait for here). */
function serverHandle(name: string, proc: ManagedProcess, port: number, dir: string, stopSignal: NodeJS.Signals = 'SIGTERM'): ServerProcess {
  const pid = proc.child.pid;
  if (pid === undefined) throw new Error(`${name} did not start. Log: ${tailFile(proc.logFile)}`);
  return {
    name,
    url: `http://${LOOPBACK}:${port}`,
    port,
    pid,
    dir,
    proc,
    rssBytes: () => rssBytesOf(pid),
    stop: () => proc.stop(5000, stopSignal),
  };
}

/** The baseline: a bare Fastify route returning a small JSON object (bench/baseline-server.ts), on the same
 * Node with the same flags as the gateway, so that the flags' effect is not counted as the gateway's. */
export function startBaseline(): Promise<ServerProcess> {
  return startBenchServer('baseline', 'baseline-server.ts', '/hello');
}

/** One of bench/'s own servers (`script PORT ...args`), with the image's Node flags; ready when GET
 * `readyPath` (with `headers`) answers 200. */
export async function startBenchServer(name: string, script: string, readyPath: string, options: { args?: string[]; headers?: Record<string, string> } = {}): Promise<ServerProcess> {
  const dir = makeTempDir(`bench-${name}`);
  const port = await freePort();
  const proc = spawnManaged(NODE, [...imageNodeFlags(), join(BENCH_DIR, script), String(port), ...(options.args ?? [])], { cwd: dir, logFile: join(dir, `${name}.log`) });
  const server = serverHandle(name, proc, port, dir);
  await waitFor200(name, proc, `${server.url}${readyPath}`, options.headers);
  return server;
}

/** How the gateway is started: `npm start`'s entry (src, type stripping) or the built package (dist, as the image runs it). */
export type GatewayEntry = 'src' | 'dist';
export const gatewayEntryFile = (entry: GatewayEntry, tree = REPO_DIR): string => join(tree, entry === 'src' ? 'src/main.ts' : 'dist/main.js');

export interface GatewayProcessOptions {
  /** The gateway configuration (server.port is set here). */
  config: Record<string, unknown>;
  /** Files written next to the config (relative paths in the config resolve against its directory). */
  files?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  entry?: GatewayEntry;
  /** Wait for this path to answer 200 (default /readyz). */
  readyPath?: string;
  dir?: string;
  /** Node flags besides the image's own (imageNodeFlags), e.g. --cpu-prof for `npm run bench -- --profile`. */
  nodeFlags?: string[];
  /** The checkout whose gateway runs (default: this one; bench/start-ab.ts compares two). */
  tree?: string;
}

/** The real gateway, as `secrets-gateway serve --config FILE` runs it, on loopback. */
export async function startGateway(options: GatewayProcessOptions): Promise<ServerProcess> {
  const { dir, port, proc } = await spawnGateway(options);
  const server = serverHandle('gateway', proc, port, dir, 'SIGINT');
  await waitFor200('gateway', proc, `${server.url}${options.readyPath ?? '/readyz'}`);
  return server;
}

/** Writes the config and starts the gateway process without waiting for it (the start-time measure waits itself). */
export async function spawnGateway(
  options: GatewayProcessOptions,
): Promise<{ dir: string; port: number; proc: ManagedProcess; configPath: string; /** performance.now() just before the spawn. */ spawnedAt: number }> {
  const dir = options.dir ?? makeTempDir('bench-gateway');
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
  const port = await freePort();
  const config = { ...options.config, server: { ...(options.config['server'] as object | undefined), host: LOOPBACK, port } };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const spawnedAt = performance.now();
  const entry = options.entry ?? 'src';
  const proc = spawnManaged(NODE, [...imageNodeFlags(), ...(options.nodeFlags ?? []), gatewayEntryFile(entry, options.tree), 'serve', '--config', configPath], {
    cwd: dir,
    logFile: join(dir, 'gateway.log'),
    // A source start as `npm start` runs it: with the environment its script sets.
    env: { ...(entry === 'src' ? npmStartEnv(options.tree) : {}), ...options.env },
  });
  return { dir, port, proc, configPath, spawnedAt };
}

/** Runs one load in its own process (bench/load-worker.ts) and returns its figures. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(NODE, [join(BENCH_DIR, 'load-worker.ts'), JSON.stringify(spec)], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`load process failed: ${err.message}\n${stderr.slice(-2000)}`));
        return;
      }
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as LoadResult);
      } catch {
        reject(new Error(`load process answered no result: ${stdout.slice(-500)} ${stderr.slice(-1000)}`));
      }
    });
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK).
const CLOCK_TICKS = 100;

export type MeasuredLoad = LoadResult & {
  /** The server's CPU use over the run, warm-up included (1.0 = one core busy). */
  serverCpu: number;
  /** The server's CPU time per request (warm-up included), in µs: what a request costs, whatever else runs on the machine. */
  serverCpuUsPerRequest: number;
  /** The same over the measured run alone (the load process reads /proc/<pid>/stat just before and after it). */
  serverCpuUsPerMeasuredRequest: number;
};

/** A load against one server, with the server's CPU use during it. */
export async function measureLoad(server: Pick<ServerProcess, 'pid'>, spec: LoadSpec): Promise<MeasuredLoad> {
  const before = cpuSecondsOf(server.pid);
  const t0 = performance.now();
  const result = await runLoad({ ...spec, serverPid: server.pid });
  const wall = (performance.now() - t0) / 1000;
  const used = cpuSecondsOf(server.pid) - before;
  return {
    ...result,
    serverCpu: used / wall,
    serverCpuUsPerRequest: (used * 1e6) / Math.max(1, result.requests + result.warmupRequests),
    serverCpuUsPerMeasuredRequest: ((result.serverCpuSecondsMeasured ?? NaN) * 1e6) / Math.max(1, result.requests),
  };
}
