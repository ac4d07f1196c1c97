// Starts the harness' Google Secret Manager v1 gRPC server
// (test/emulators/gcp-secret-manager/server.ts) as a child process on 127.0.0.1,
// and builds a REAL @google-cloud/secret-manager SecretManagerServiceClient for
// it: plaintext gRPC, no Google credentials, no metadata-server probing.
//
// The data is persisted to a state file in the temp dir, so stop() + restart()
// on the same port keeps the secrets (as a real outage would).
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import {
  LOOPBACK,
  REPO_ROOT,
  freePort,
  makeTempDir,
  probeFetch,
  processLifecycle,
  spawnManaged,
  waitReady,
} from './common.ts';
import type { ManagedProcess, ProcessLifecycle } from './common.ts';
import type { StatusName } from '../../emulators/gcp-secret-manager/store.ts';

/** The client's own options type (google-gax ClientOptions). */
export type GcpClientOptions = NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;

export const GCP_EMULATOR_SCRIPT = join(REPO_ROOT, 'test', 'emulators', 'gcp-secret-manager', 'server.ts');

/** The emulator's gRPC status names, less OK (a fault is never OK). */
export type GrpcStatusName = Exclude<StatusName, 'OK'>;

export interface GcpFault {
  /** RPC method name, e.g. 'AccessSecretVersion'; all methods when omitted. */
  method?: string;
  /** Prefix of the request's resource name (name/parent), e.g. 'projects/p/secrets/conn-'. */
  resource?: string;
  /** gRPC status to fail with; omit for a pure delay. */
  code?: GrpcStatusName;
  message?: string;
  /** Apply this many times, then drop the fault (default: until cleared). */
  times?: number;
  /** Wait this long before answering (or failing). */
  delayMs?: number;
}

export interface GcpCall {
  method: string;
  resource: string;
  code: string;
  at: number;
}

export type LatestResolution = 'newest-created' | 'newest-enabled';

export interface GcpSecretManagerServer extends ProcessLifecycle {
  readonly host: string;
  readonly port: number;
  /** 127.0.0.1:PORT (gRPC, plaintext) */
  readonly endpoint: string;
  /** http://127.0.0.1:CONTROL_PORT — the test control plane. */
  readonly controlUrl: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** A REAL client for this server; `overrides` are merged last. */
  client(overrides?: GcpClientOptions): SecretManagerServiceClient;
  /** Client options for this server (apiEndpoint, port, sslCreds insecure, ...), for code that builds its own client. */
  clientOptions(): GcpClientOptions;
  /** Make matching calls fail (e.g. { method: 'AccessSecretVersion', code: 'PERMISSION_DENIED' }) or slow down. */
  addFault(f: GcpFault): Promise<void>;
  clearFaults(): Promise<void>;
  /** Every RPC seen since start / the last clearCalls(). */
  calls(): Promise<GcpCall[]>;
  clearCalls(): Promise<void>;
  /** Drop all secrets, faults and the call log. */
  reset(): Promise<void>;
  setLatestResolution(r: LatestResolution): Promise<void>;
  /** Back on the same ports after stop() or kill(), with the same data (what was written before a kill included). */
  restart(): Promise<void>;
}

export interface StartGcpOptions {
  port?: number;
  controlPort?: number;
  /** How `versions/latest` resolves on access: the real service uses 'newest-created' (default). */
  latestResolution?: LatestResolution;
  timeoutMs?: number;
}

/** Options for a real SecretManagerServiceClient talking plaintext gRPC to 127.0.0.1:port. */
export function gcpClientOptions(port: number): GcpClientOptions {
  return {
    apiEndpoint: LOOPBACK,
    port,
    // Insecure channel credentials: google-gax uses them as-is and never asks
    // google-auth-library for credentials.
    sslCreds: grpc.credentials.createInsecure(),
    // Set explicitly so google-auth-library does not try to discover it.
    universeDomain: 'googleapis.com',
    projectId: 'harness-project',
    // google-gax sets a 1 s initial reconnect backoff (growing to minutes); after
    // a stop()/restart() of this server a harness client should reconnect fast.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 500,
  };
}

export async function startGcpSecretManager(opts: StartGcpOptions = {}): Promise<GcpSecretManagerServer> {
  const port = opts.port ?? (await freePort());
  const controlPort = opts.controlPort ?? (await freePort());
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const dir = makeTempDir('gcp-sm');
  const stateFile = join(dir, 'state.json');
  const controlUrl = `http://${LOOPBACK}:${controlPort}`;
  let latest: LatestResolution = opts.latestResolution ?? 'newest-created';
  let proc: ManagedProcess | undefined;
  let runs = 0;

  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await fetch(`${controlUrl}${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      signal: AbortSignal.timeout(5000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`gcp emulator ${method} ${path}: HTTP ${r.status} ${text}`);
    return text === '' ? null : JSON.parse(text);
  };

  const launch = async (): Promise<void> => {
    runs += 1;
    const p = spawnManaged(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        GCP_EMULATOR_SCRIPT,
        '--port', String(port),
        '--control-port', String(controlPort),
        '--state-file', stateFile,
        '--latest', latest,
      ],
      { cwd: REPO_ROOT, logFile: join(dir, `gcp-sm-${runs}.log`), stdinPipe: true },
    );
    proc = p;
    await waitReady(
      'gcp-secret-manager emulator',
      p,
      async () => {
        const r = await probeFetch(`${controlUrl}/healthz`);
        await r.body?.cancel();
        return r.status === 200;
      },
      timeoutMs,
      25,
    );
  };

  await launch();

  const handle: GcpSecretManagerServer = {
    host: LOOPBACK,
    port,
    endpoint: `${LOOPBACK}:${port}`,
    controlUrl,
    get pid() {
      return proc?.child.pid;
    },
    get logFile() {
      return proc?.logFile ?? '';
    },
    clientOptions: () => gcpClientOptions(port),
    client: (overrides = {}) => new SecretManagerServiceClient({ ...gcpClientOptions(port), ...overrides }),
    addFault: async (f) => {
      await control('POST', '/control/faults', f);
    },
    clearFaults: async () => {
      await control('DELETE', '/control/faults');
    },
    calls: async () => (await control('GET', '/control/calls')) as GcpCall[],
    clearCalls: async () => {
      await control('DELETE', '/control/calls');
    },
    reset: async () => {
      await control('POST', '/control/reset');
    },
    setLatestResolution: async (r) => {
      await control('POST', '/control/latest', { resolution: r });
      latest = r;
    },
    ...processLifecycle(() => proc, [port, controlPort], dir),
    restart: async () => {
      await handle.stop();
      await launch();
    },
  };
  return handle;
}
