// A real moto server (`moto_server -H 127.0.0.1 -p PORT`) from .venv/tools,
// standing in for AWS Secrets Manager, plus a REAL @aws-sdk/client-secrets-manager
// client configured for it (us-east-1, static fake credentials, loopback endpoint).
//
// State is in memory. moto's own request recorder is switched on, so restart()
// brings the state back by replaying the recorded requests (ARNs get new random
// suffixes and dates change, as with any re-creation); restart({ keepState: false })
// starts empty.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  LOOPBACK,
  freePort,
  makeTempDir,
  probeFetch,
  processLifecycle,
  spawnManaged,
  venvTool,
  waitReady,
} from './common.ts';
import type { ManagedProcess, ProcessLifecycle } from './common.ts';

export const MOTO_REGION = 'us-east-1';
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

export interface MotoServer extends ProcessLifecycle {
  readonly host: string;
  readonly port: number;
  /** http://127.0.0.1:PORT — the endpoint for every AWS SDK client. */
  readonly url: string;
  readonly region: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** A real Secrets Manager client for this server; `overrides` are merged last (e.g. { maxAttempts: 1 }). */
  secretsManagerClient(overrides?: Partial<SecretsManagerClientConfig>): SecretsManagerClient;
  /** Wipe all moto state (POST /moto-api/reset) and the recording. */
  reset(): Promise<void>;
  /** Start again on the same port; by default replays the recorded requests to restore state. */
  restart(opts?: { keepState?: boolean }): Promise<void>;
}

export interface StartMotoOptions {
  port?: number;
  timeoutMs?: number;
}

export async function startMoto(opts: StartMotoOptions = {}): Promise<MotoServer> {
  const bin = venvTool('moto_server');
  const port = opts.port ?? (await freePort());
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const url = `http://${LOOPBACK}:${port}`;
  const dir = makeTempDir('moto');
  const recording = join(dir, 'moto-recording.jsonl');
  let proc: ManagedProcess | undefined;
  let runs = 0;

  const post = async (path: string): Promise<void> => {
    const r = await fetch(`${url}${path}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
    const text = await r.text();
    if (!r.ok) throw new Error(`moto POST ${path} failed: HTTP ${r.status} ${text.slice(0, 500)}`);
  };

  const launch = async (): Promise<void> => {
    runs += 1;
    const p = spawnManaged(bin, ['-H', LOOPBACK, '-p', String(port)], {
      cwd: dir,
      logFile: join(dir, `moto-${runs}.log`),
      env: {
        HOME: dir,
        MOTO_ENABLE_RECORDING: 'True',
        MOTO_RECORDER_FILEPATH: recording,
        // the replay is sent by moto to itself with python-requests: never via a proxy
        NO_PROXY: '127.0.0.1,localhost',
        no_proxy: '127.0.0.1,localhost',
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: MOTO_REGION,
        PYTHONUNBUFFERED: '1',
      },
    });
    proc = p;
    await waitReady(
      'moto_server',
      p,
      async () => {
        const r = await probeFetch(`${url}/moto-api/data.json`);
        await r.body?.cancel();
        return r.status === 200;
      },
      timeoutMs,
      50,
    );
  };

  await launch();

  const handle: MotoServer = {
    host: LOOPBACK,
    port,
    url,
    region: MOTO_REGION,
    get pid() {
      return proc?.child.pid;
    },
    get logFile() {
      return proc?.logFile ?? '';
    },
    secretsManagerClient: (overrides = {}) =>
      new SecretsManagerClient({
        region: MOTO_REGION,
        endpoint: url,
        credentials: { ...MOTO_CREDENTIALS },
        ...overrides,
      }),
    reset: async () => {
      await post('/moto-api/reset');
      await post('/moto-api/recorder/reset-recording');
    },
    ...processLifecycle(() => proc, [port], dir),
    restart: async (o = {}) => {
      await handle.stop();
      if (o.keepState === false) rmSync(recording, { force: true });
      await launch();
      if (o.keepState !== false && existsSync(recording)) await post('/moto-api/recorder/replay-recording');
    },
  };
  return handle;
}
