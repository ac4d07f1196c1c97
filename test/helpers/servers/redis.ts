// A real redis-server on 127.0.0.1, no persistence, in a temp dir.
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  LOOPBACK,
  freePort,
  makeTempDir,
  processLifecycle,
  spawnManaged,
  systemTool,
  waitReady,
} from './common.ts';
import type { ManagedProcess, ProcessLifecycle } from './common.ts';

export interface RedisServer extends ProcessLifecycle {
  readonly host: string;
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly dir: string;
  readonly pid: number | undefined;
  /** Run a command with redis-cli-like semantics over a raw RESP connection; returns the raw reply line(s). */
  command(...args: string[]): Promise<string>;
  /** Start again on the same port (data is not kept: no persistence). */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  timeoutMs?: number;
}

/** Send one RESP command and read one reply (good enough for PING/SET/GET/PUBLISH). */
export async function redisCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  const payload = `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
  return await new Promise<string>((res, rej) => {
    const sock = connect({ host: LOOPBACK, port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      rej(new Error(`redis ${args[0]} timed out`));
    }, timeoutMs);
    sock.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const complete = isCompleteReply(buf);
      if (complete) {
        clearTimeout(timer);
        sock.end();
        res(buf);
      }
    });
  });
}

function isCompleteReply(s: string): boolean {
  if (!s.endsWith('\r\n')) return false;
  const t = s[0];
  if (t === '+' || t === '-' || t === ':') return true;
  if (t === '$') {
    const nl = s.indexOf('\r\n');
    const len = Number(s.slice(1, nl));
    if (len < 0) return true;
    return s.length >= nl + 2 + len + 2;
  }
  return true; // arrays etc.: single read is enough for harness use
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = systemTool('redis-server');
  const port = opts.port ?? (await freePort());
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const dir = makeTempDir('redis');
  let proc: ManagedProcess | undefined;
  let runs = 0;

  const launch = async (): Promise<void> => {
    runs += 1;
    const p = spawnManaged(
      bin,
      ['--port', String(port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
      { cwd: dir, logFile: join(dir, `redis-${runs}.log`) },
    );
    proc = p;
    await waitReady('redis-server', p, async () => (await redisCommand(port, ['PING'], 500)).startsWith('+PONG'), timeoutMs, 20);
  };

  await launch();

  const handle: RedisServer = {
    host: LOOPBACK,
    port,
    url: `redis://${LOOPBACK}:${port}`,
    dir,
    get pid() {
      return proc?.child.pid;
    },
    command: async (...args: string[]) => await redisCommand(port, args),
    ...processLifecycle(() => proc, [port], dir),
    restart: async () => {
      await handle.stop();
      await launch();
    },
  };
  return handle;
}
