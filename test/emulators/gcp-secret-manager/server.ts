// A loopback Google Secret Manager v1 gRPC server for tests (there is no
// official emulator). It serves google.cloud.secretmanager.v1.SecretManagerService
// from the .proto files that @google-cloud/secret-manager ships, loaded with
// @grpc/proto-loader, over plaintext on 127.0.0.1, with an in-memory store
// (optionally persisted to a state file so a restart keeps the data).
//
// A second loopback HTTP port is the test control plane:
//   GET  /healthz                    -> 200 "ok"
//   POST /control/faults  {method?, resource?, code, message?, times?, delayMs?}
//        make matching calls fail with a gRPC status (e.g. PERMISSION_DENIED) and/or wait delayMs first;
//        `resource` is a prefix of the request's name/parent; `times` limits how often (default: always)
//   DELETE /control/faults           -> clear faults
//   GET  /control/calls              -> [{method, resource, code, at}] every call seen
//   DELETE /control/calls            -> clear the call log
//   POST /control/reset              -> drop all data, faults and the call log
//   POST /control/latest {"resolution": "newest-created" | "newest-enabled"}
//   GET  /control/state              -> dump of the store (payloads redacted)
//
// Usage: node server.ts --port P --control-port C [--state-file F] [--latest newest-created|newest-enabled]
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { RpcError, STATUS_CODES, SecretStore } from './store.ts';
import type { LatestResolution, StatusName } from './store.ts';

const HOST = '127.0.0.1';

export function protoIncludeDirs(): { file: string; includeDirs: string[] } {
  const require = createRequire(import.meta.url);
  const smPkg = dirname(require.resolve('@google-cloud/secret-manager/package.json'));
  const smRequire = createRequire(join(smPkg, 'package.json'));
  // google-gax has an "exports" map without ./package.json: walk up from its main file.
  let gaxPkg = dirname(smRequire.resolve('google-gax'));
  while (!existsSync(join(gaxPkg, 'package.json')) && dirname(gaxPkg) !== gaxPkg) gaxPkg = dirname(gaxPkg);
  return {
    file: 'google/cloud/secretmanager/v1/service.proto',
    includeDirs: [join(smPkg, 'build', 'protos'), join(gaxPkg, 'build', 'protos')],
  };
}

export function loadSecretManagerService(): grpc.ServiceDefinition {
  const { file, includeDirs } = protoIncludeDirs();
  const def = protoLoader.loadSync(file, {
    includeDirs,
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    google: { cloud: { secretmanager: { v1: { SecretManagerService: { service: grpc.ServiceDefinition } } } } };
  };
  return pkg.google.cloud.secretmanager.v1.SecretManagerService.service;
}

interface Fault {
  method?: string;
  resource?: string;
  code?: StatusName;
  message?: string;
  times?: number;
  delayMs?: number;
}

interface CallRecord {
  method: string;
  resource: string;
  code: StatusName;
  at: number;
}

export interface EmulatorOptions {
  port: number;
  controlPort: number;
  stateFile?: string;
  latestResolution?: LatestResolution;
}

export async function startEmulator(opts: EmulatorOptions): Promise<{ close(): Promise<void> }> {
  const store = new SecretStore({
    ...(opts.stateFile !== undefined ? { stateFile: opts.stateFile } : {}),
    ...(opts.latestResolution !== undefined ? { latestResolution: opts.latestResolution } : {}),
  });
  let faults: Fault[] = [];
  let calls: CallRecord[] = [];

  type Req = any;
  const resourceOf = (req: Req): string => String(req?.name ?? req?.parent ?? req?.secret?.name ?? '');

  const unary =
    (method: string, fn: (req: Req) => unknown) =>
    (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
      const req = call.request;
      const resource = resourceOf(req);
      const run = async (): Promise<void> => {
        const fault = faults.find(
          (f) => (f.method === undefined || f.method === method) && (f.resource === undefined || resource.startsWith(f.resource)),
        );
        if (fault !== undefined) {
          if (fault.times !== undefined) {
            fault.times -= 1;
            if (fault.times <= 0) faults = faults.filter((f) => f !== fault);
          }
          if (fault.delayMs !== undefined && fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
          if (fault.code !== undefined && fault.code !== 'OK') {
            const message =
              fault.message ??
              (fault.code === 'PERMISSION_DENIED'
                ? `Permission denied on resource [${resource}] (or it may not exist).`
                : `Injected ${fault.code} for ${method}.`);
            throw new RpcError(fault.code, message);
          }
        }
        return undefined;
      };
      run()
        .then(() => {
          const res = fn(req);
          calls.push({ method, resource, code: 'OK', at: Date.now() });
          callback(null, res);
        })
        .catch((e: unknown) => {
          const err = e instanceof RpcError ? e : new RpcError('INTERNAL', e instanceof Error ? e.message : String(e));
          calls.push({ method, resource, code: err.status, at: Date.now() });
          callback({ code: STATUS_CODES[err.status], details: err.message, metadata: new grpc.Metadata() } as grpc.ServiceError);
        });
    };

  const impl: grpc.UntypedServiceImplementation = {
    CreateSecret: unary('CreateSecret', (r) => store.createSecret(r)),
    GetSecret: unary('GetSecret', (r) => store.getSecret(r.name)),
    UpdateSecret: unary('UpdateSecret', (r) => store.updateSecret(r)),
    DeleteSecret: unary('DeleteSecret', (r) => {
      store.deleteSecret(r);
      return {};
    }),
    ListSecrets: unary('ListSecrets', (r) => store.listSecrets(r)),
    AddSecretVersion: unary('AddSecretVersion', (r) => store.addSecretVersion(r)),
    GetSecretVersion: unary('GetSecretVersion', (r) => store.getSecretVersion(r.name)),
    AccessSecretVersion: unary('AccessSecretVersion', (r) => store.accessSecretVersion(r.name)),
    DisableSecretVersion: unary('DisableSecretVersion', (r) => store.disableSecretVersion(r)),
    EnableSecretVersion: unary('EnableSecretVersion', (r) => store.enableSecretVersion(r)),
    DestroySecretVersion: unary('DestroySecretVersion', (r) => store.destroySecretVersion(r)),
    ListSecretVersions: unary('ListSecretVersions', (r) => store.listSecretVersions(r)),
  };

  const server = new grpc.Server();
  server.addService(loadSecretManagerService(), impl);
  await new Promise<void>((res, rej) =>
    server.bindAsync(`${HOST}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? rej(err) : res())),
  );

  const readJson = async (req: IncomingMessage): Promise<unknown> => {
    let body = '';
    for await (const chunk of req) body += (chunk as Buffer).toString('utf8');
    return body === '' ? {} : JSON.parse(body);
  };
  const control = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (code: number, obj: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    const route = `${req.method} ${req.url}`;
    void (async () => {
      try {
        switch (route) {
          case 'GET /healthz':
            send(200, 'ok');
            return;
          case 'POST /control/faults': {
            const f = (await readJson(req)) as Fault;
            if (f.code !== undefined && !(f.code in STATUS_CODES)) {
              send(400, { error: `unknown status ${String(f.code)}` });
              return;
            }
            faults.push(f);
            send(200, { faults });
            return;
          }
          case 'DELETE /control/faults':
            faults = [];
            send(200, { faults });
            return;
          case 'GET /control/calls':
            send(200, calls);
            return;
          case 'DELETE /control/calls':
            calls = [];
            send(200, []);
            return;
          case 'POST /control/reset':
            store.reset();
            faults = [];
            calls = [];
            send(200, {});
            return;
          case 'POST /control/latest': {
            const b = (await readJson(req)) as { resolution?: LatestResolution };
            if (b.resolution !== 'newest-created' && b.resolution !== 'newest-enabled') {
              send(400, { error: 'resolution must be newest-created or newest-enabled' });
              return;
            }
            store.latestResolution = b.resolution;
            send(200, { resolution: store.latestResolution });
            return;
          }
          case 'GET /control/state':
            send(200, store.dump());
            return;
          default:
            send(404, { error: `no route ${route}` });
        }
      } catch (e) {
        send(500, { error: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
  await new Promise<void>((res, rej) => {
    control.once('error', rej);
    control.listen(opts.controlPort, HOST, () => res());
  });

  return {
    close: async () => {
      control.closeAllConnections();
      await new Promise<void>((r) => control.close(() => r()));
      // Open client channels would keep tryShutdown waiting: force after a short grace.
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          r();
        }, 200);
        server.tryShutdown(() => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'control-port': { type: 'string' },
      'state-file': { type: 'string' },
      latest: { type: 'string' },
    },
  });
  const port = Number(values.port);
  const controlPort = Number(values['control-port']);
  if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(controlPort) || controlPort <= 0) {
    throw new Error('usage: server.ts --port P --control-port C [--state-file F] [--latest newest-created|newest-enabled]');
  }
  const latest = values.latest;
  if (latest !== undefined && latest !== 'newest-created' && latest !== 'newest-enabled') throw new Error(`bad --latest ${latest}`);
  const emu = await startEmulator({
    port,
    controlPort,
    ...(values['state-file'] !== undefined ? { stateFile: values['state-file'] } : {}),
    ...(latest !== undefined ? { latestResolution: latest } : {}),
  });
  console.log(`gcp-secret-manager emulator: grpc ${HOST}:${port}, control http://${HOST}:${controlPort}`);

  let closing = false;
  const shutdown = (why: string): void => {
    if (closing) return;
    closing = true;
    console.log(`shutting down (${why})`);
    const hard = setTimeout(() => process.exit(0), 2000);
    hard.unref();
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The harness keeps a pipe on our stdin: when the test process dies, it closes.
  if (!process.stdin.isTTY) {
    process.stdin.on('end', () => shutdown('parent closed stdin'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }
}

if (import.meta.main) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
