// Shared plumbing for the real-server test helpers: free loopback ports,
// managed child processes that die with the test process, readiness polling
// with a bounded timeout, and repo-relative tool lookup.
//
// Importing any helper sets AWS_EC2_METADATA_DISABLED=true and
// METADATA_SERVER_DETECTION=none in this process' environment, so no AWS or
// Google SDK ever probes a cloud metadata address. Child servers get them too.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, closeSync, readSync, fstatSync, chownSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
process.env['METADATA_SERVER_DETECTION'] = 'none';

export const LOOPBACK = '127.0.0.1';

/** Repository root, resolved from this file's location (test/helpers/servers/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Path of a tool installed by scripts/provision.sh into .venv/tools/bin. */
export function venvTool(name: string): string {
  const p = join(REPO_ROOT, '.venv', 'tools', 'bin', name);
  if (!existsSync(p)) {
    throw new Error(`${name} not found at ${p}: run scripts/provision.sh`);
  }
  return p;
}

/** Absolute path of a system command, or a clear error. */
export function systemTool(name: string, extraDirs: string[] = []): string {
  for (const d of extraDirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || p === '') {
    throw new Error(`${name} not found on PATH: run scripts/provision.sh`);
  }
  return p;
}

/** Ask the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        rej(new Error('could not get a free port'));
        return;
      }
      const port = addr.port;
      srv.close(() => res(port));
    });
  });
}

const tempDirs = new Set<string>();

/**
 * A fresh temp dir under the OS temp dir; optionally owned by uid/gid.
 * It is removed when the test process exits (or earlier by removeDir()).
 * Set SG_KEEP_SERVER_DIRS=1 to keep them for debugging.
 */
export function makeTempDir(prefix: string, owner?: { uid: number; gid: number }): string {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), `sg-${prefix}-`));
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  tempDirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  tempDirs.delete(dir);
  if (process.env['SG_KEEP_SERVER_DIRS'] === '1') return;
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

/** The last `bytes` of a file, for error messages. */
export function tailFile(path: string, bytes = 4000): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '(no log)';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Managed processes

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const c of live) {
    try {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const d of [...tempDirs]) removeDir(d);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync();
      process.kill(process.pid, sig);
    });
  }
}

/** Linux util-linux `setpriv`, used to set a parent-death signal (and to drop to another user). */
const SETPRIV: string | undefined = (() => {
  const r = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || p === '') return undefined;
  const probe = spawnSync(p, ['--pdeathsig', 'KILL', '--', 'true']);
  return probe.status === 0 ? p : undefined;
})();

export interface RunAs {
  user: string;
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** `signal` (default SIGTERM), then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILL at once (simulates a crash); resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface SpawnManagedOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Log file that receives the process' stdout and stderr. */
  logFile: string;
  /** Drop privileges to this user (needs root and setpriv). */
  runAs?: RunAs;
  /** Keep a pipe on stdin (lets a child node process detect parent death). */
  stdinPipe?: boolean;
}

/**
 * Spawn a server process that cannot outlive this test process:
 * - killed on stop(), on process 'exit', and on SIGINT/SIGTERM/SIGHUP;
 * - on Linux wrapped in `setpriv --pdeathsig KILL`, so the kernel kills it even
 *   if this process is SIGKILLed.
 */
export function spawnManaged(cmd: string, args: string[], opts: SpawnManagedOptions): ManagedProcess {
  installExitHooks();
  const logFd = openSync(opts.logFile, 'a');
  if (opts.runAs !== undefined) {
    const id = userIds(opts.runAs.user);
    try {
      chownSync(opts.logFile, id.uid, id.gid);
    } catch {
      // ignore
    }
  }
  let file = cmd;
  let argv = args;
  if (SETPRIV !== undefined) {
    const pre = ['--pdeathsig', 'KILL'];
    if (opts.runAs !== undefined) pre.push('--reuid', opts.runAs.user, '--regid', opts.runAs.user, '--init-groups');
    argv = [...pre, '--', cmd, ...args];
    file = SETPRIV;
  } else if (opts.runAs !== undefined) {
    throw new Error(`setpriv is needed to run ${cmd} as ${opts.runAs.user}`);
  }
  const spawnOpts: SpawnOptions = {
    cwd: opts.cwd,
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', METADATA_SERVER_DETECTION: 'none', ...opts.env },
    stdio: [opts.stdinPipe === true ? 'pipe' : 'ignore', logFd, logFd],
    detached: false,
  };
  const child = spawn(file, argv, spawnOpts);
  closeSync(logFd);
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      res({ code, signal });
    });
    child.once('error', () => {
      live.delete(child);
      res({ code: -1, signal: null });
    });
  });
  // Never keep the event loop alive just because a server runs.
  child.unref();
  if (child.stdin) (child.stdin as unknown as { unref?: () => void }).unref?.();
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null && live.has(child);
  // While we wait for the exit, keep the event loop alive (the child is unref'd).
  const awaitExit = async (): Promise<void> => {
    child.ref();
    try {
      await exited;
    } finally {
      child.unref();
    }
  };
  const stop = async (graceMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (!isRunning()) {
      await awaitExit();
      return;
    }
    child.kill(signal);
    const t = setTimeout(() => {
      if (isRunning()) child.kill('SIGKILL');
    }, graceMs);
    await awaitExit();
    clearTimeout(t);
  };
  const kill = async (): Promise<void> => {
    if (isRunning()) child.kill('SIGKILL');
    await awaitExit();
  };
  return { child, logFile: opts.logFile, exited, isRunning, stop, kill };
}

export function userIds(user: string): { uid: number; gid: number } {
  const u = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) throw new Error(`user ${user} does not exist`);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * Poll `probe` until it returns true, the process exits, or the timeout passes.
 * Errors include the tail of the server's own log.
 */
export async function waitReady(
  name: string,
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (!proc.isRunning()) {
      const st = await proc.exited;
      throw new Error(
        `${name} exited before it was ready (code ${st.code}, signal ${st.signal}). Log tail (${proc.logFile}):\n${tailFile(proc.logFile)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (e) {
      lastErr = e;
    }
    await sleep(intervalMs);
  }
  await proc.kill();
  const why = lastErr instanceof Error ? ` Last probe error: ${lastErr.message}.` : '';
  throw new Error(
    `${name} was not ready within ${timeoutMs} ms.${why} Log tail (${proc.logFile}):\n${tailFile(proc.logFile)}`,
  );
}

/** fetch with a short timeout, for readiness probes. */
export async function probeFetch(url: string, init: RequestInit = {}, timeoutMs = 1000): Promise<Response> {
  return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

/** True when nothing accepts TCP connections on 127.0.0.1:port. */
export async function portIsFree(port: number): Promise<boolean> {
  return await new Promise<boolean>((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, LOOPBACK, () => srv.close(() => res(true)));
  });
}

/** Wait until the port can be bound again (after a stop, before a restart). */
export async function waitPortFree(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portIsFree(port)) return;
    await sleep(50);
  }
  throw new Error(`port ${port} still in use ${timeoutMs} ms after stop`);
}

/** The stop, kill and dispose every launched server shares. */
export interface ProcessLifecycle {
  /** Graceful stop (SIGTERM); resolves when its ports can be bound again, so a restart can take them. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; resolves when its ports are free. */
  kill(): Promise<void>;
  /** Stop and remove the temp dir. */
  dispose(): Promise<void>;
}

/** stop/kill/dispose for a server whose current process is `current()` (launch() replaces it on a restart). */
export function processLifecycle(current: () => ManagedProcess | undefined, ports: number[], dir: string): ProcessLifecycle {
  const portsFree = async () => {
    for (const port of ports) await waitPortFree(port);
  };
  return {
    stop: async () => {
      await current()?.stop();
      await portsFree();
    },
    kill: async () => {
      await current()?.kill();
      await portsFree();
    },
    dispose: async () => {
      await current()?.stop();
      removeDir(dir);
    },
  };
}

/** Processes still alive that were started by the helpers (for leak checks in tests). */
export function liveProcessCount(): number {
  return [...live].filter((c) => c.exitCode === null && c.signalCode === null).length;
}

/** Is a pid alive? */
export function pidAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
