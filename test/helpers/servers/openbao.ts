// A real OpenBao dev server (`bao server -dev`) on 127.0.0.1, with helpers to set
// up KV v1/v2 mounts, secrets, policies, and approle / userpass / kubernetes auth
// through its HTTP API.
//
// Dev mode keeps everything in memory. So that restart() brings back a usable
// server, every successful write made through this handle (setup helpers and
// write()) is journaled and replayed in order after a restart; approle role_ids
// and secret_ids are chosen by the harness, so they are the same after a restart.
// Tokens issued by logins do not survive a restart (as with a real data loss).
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
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
import type { ServiceAccountToken, TokenReviewServer } from './kubernetes-tokenreview.ts';

export interface BaoResponse {
  status: number;
  body: any;
}

export interface ApproleCredentials {
  roleName: string;
  roleId: string;
  secretId: string;
  mount: string;
}

export interface OpenBaoServer extends ProcessLifecycle {
  readonly host: string;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly rootToken: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** With `auditLog: true`: OpenBao's own file audit device, one JSON line per request and per response. */
  readonly auditLogFile: string | undefined;
  /** The requests OpenBao's audit device recorded so far (needs `auditLog: true`). */
  auditedRequests(): AuditedRequest[];

  /** Raw HTTP API call (path without /v1). Not journaled. Uses the root token unless token is given ('' = none). */
  request(method: string, path: string, body?: unknown, token?: string): Promise<BaoResponse>;
  /** Write with the root token; throws on non-2xx; journaled for replay after restart(). */
  write(path: string, body?: unknown, method?: 'POST' | 'PUT' | 'DELETE'): Promise<BaoResponse>;
  /** GET with the root token; returns the response (404 allowed). */
  read(path: string): Promise<BaoResponse>;

  enableKvV1(mount: string): Promise<void>;
  enableKvV2(mount: string): Promise<void>;
  /** Write a KV secret: v1 writes `data` as-is at mount/path; v2 writes {data} at mount/data/path. */
  putSecret(mount: string, path: string, data: Record<string, unknown>, version: 1 | 2): Promise<void>;
  /** Read a KV secret's data (null when absent). */
  getSecret(mount: string, path: string, version: 1 | 2): Promise<Record<string, unknown> | null>;
  /** Create/replace an ACL policy. */
  writePolicy(name: string, hcl: string): Promise<void>;
  /** A policy that can read (and list) everything under the given mounts. */
  writeReadPolicy(name: string, mounts: string[]): Promise<void>;

  enableApprole(mount?: string): Promise<void>;
  /** Create an approle role with fixed role_id and one secret_id. */
  createApproleRole(roleName: string, policies: string[], opts?: { mount?: string; tokenTtl?: string }): Promise<ApproleCredentials>;
  /** Issue another secret_id for a role (custom value, so replay keeps it valid). */
  createApproleSecretId(roleName: string, mount?: string): Promise<string>;
  /** Log in with approle; returns the client token. */
  loginApprole(roleId: string, secretId: string, mount?: string): Promise<string>;

  enableUserpass(mount?: string): Promise<void>;
  createUser(username: string, password: string, policies: string[], mount?: string): Promise<void>;
  loginUserpass(username: string, password: string, mount?: string): Promise<string>;

  /**
   * Enable kubernetes auth pointed at a harness TokenReview server over plain
   * http (disable_local_ca_jwt=true, disable_iss_validation=true).
   */
  enableKubernetes(tokenReview: TokenReviewServer, mount?: string): Promise<void>;
  createKubernetesRole(
    roleName: string,
    sa: { names: string[]; namespaces: string[] },
    policies: string[],
    mount?: string,
  ): Promise<void>;
  loginKubernetes(roleName: string, token: ServiceAccountToken | string, mount?: string): Promise<string>;

  /** Back on the same port after stop() or kill(), with the setup journal replayed. */
  restart(): Promise<void>;
  /**
   * SIGSTOP: the kernel still accepts connections on the port, and nothing answers (a hung server),
   * until resume() (SIGCONT). Resolves once the process is stopped.
   */
  pause(): Promise<void>;
  resume(): void;
}

export interface StartOpenBaoOptions {
  port?: number;
  rootToken?: string;
  timeoutMs?: number;
  /**
   * Turn on a file audit device, so a test can count the requests OpenBao itself served.
   * OpenBao 2.x refuses to enable audit devices through the API; this one is declared in a
   * config file passed next to -dev. Accessors are not HMAC'd (the token and values are).
   */
  auditLog?: boolean;
}

/** One request as OpenBao's audit device recorded it. */
export interface AuditedRequest {
  time: string;
  operation: string;
  path: string;
  /** The token's display name (e.g. `token-<name>` for a token created with display_name). */
  displayName: string | undefined;
  policies: string[];
}

interface JournalEntry {
  method: string;
  path: string;
  body: unknown;
}

export async function startOpenBao(opts: StartOpenBaoOptions = {}): Promise<OpenBaoServer> {
  const bin = venvTool('bao');
  const port = opts.port ?? (await freePort());
  const rootToken = opts.rootToken ?? `root-${randomUUID()}`;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const url = `http://${LOOPBACK}:${port}`;
  const dir = makeTempDir('openbao');
  const journal: JournalEntry[] = [];
  let proc: ManagedProcess | undefined;
  let runs = 0;

  const request = async (method: string, path: string, body?: unknown, token: string = rootToken): Promise<BaoResponse> => {
    const headers: Record<string, string> = {};
    if (token !== '') headers['X-Vault-Token'] = token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}/v1/${path.replace(/^\/+/, '')}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed };
  };

  const mustOk = (what: string, r: BaoResponse): BaoResponse => {
    if (r.status < 200 || r.status > 299) throw new Error(`openbao ${what} failed: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };

  const doWrite = async (method: string, path: string, body: unknown, record: boolean): Promise<BaoResponse> => {
    const r = mustOk(`${method} ${path}`, await request(method, path, body));
    if (record) journal.push({ method, path, body });
    return r;
  };

  const waitKvV2Ready = async (mount: string): Promise<void> => {
    // A new KV v2 mount upgrades its storage asynchronously; wait until it answers.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await request('GET', `${mount}/config`);
      if (r.status === 200) return;
      if (Date.now() > deadline) throw new Error(`KV v2 mount ${mount} not ready: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 25));
    }
  };

  const auditLogFile = opts.auditLog === true ? join(dir, 'audit.log') : undefined;
  const configArgs: string[] = [];
  if (auditLogFile !== undefined) {
    const hcl = join(dir, 'audit.hcl');
    writeFileSync(hcl, `audit "file" "harness" {\n  options {\n    file_path = ${JSON.stringify(auditLogFile)}\n    hmac_accessor = "false"\n  }\n}\n`);
    configArgs.push(`-config=${hcl}`);
  }

  const launch = async (): Promise<void> => {
    runs += 1;
    const p = spawnManaged(
      bin,
      ['server', '-dev', `-dev-listen-address=${LOOPBACK}:${port}`, `-dev-root-token-id=${rootToken}`, '-dev-no-store-token', '-log-level=info', ...configArgs],
      {
        cwd: dir,
        logFile: join(dir, `bao-${runs}.log`),
        env: { HOME: dir, BAO_ADDR: url, VAULT_ADDR: url, BAO_TOKEN: '', VAULT_TOKEN: '' },
      },
    );
    proc = p;
    await waitReady(
      'openbao',
      p,
      async () => {
        const h = await probeFetch(`${url}/v1/sys/health`);
        await h.body?.cancel();
        if (h.status !== 200) return false;
        const r = await request('GET', 'sys/mounts/secret');
        return r.status === 200;
      },
      timeoutMs,
      50,
    );
    // Dev mode mounts a KV v2 engine at secret/.
    await waitKvV2Ready('secret');
  };

  const replay = async (): Promise<void> => {
    for (const e of journal) {
      await doWrite(e.method, e.path, e.body, false);
      if (e.path.startsWith('sys/mounts/') && (e.body as { options?: { version?: string } } | undefined)?.options?.version === '2') {
        await waitKvV2Ready(e.path.slice('sys/mounts/'.length));
      }
    }
  };

  await launch();

  const handle: OpenBaoServer = {
    host: LOOPBACK,
    port,
    url,
    rootToken,
    get pid() {
      return proc?.child.pid;
    },
    get logFile() {
      return proc?.logFile ?? '';
    },
    auditLogFile,
    auditedRequests: () => {
      if (auditLogFile === undefined) throw new Error('startOpenBao({ auditLog: true }) to record requests');
      if (!existsSync(auditLogFile)) return [];
      const requests: AuditedRequest[] = [];
      for (const line of readFileSync(auditLogFile, 'utf8').split('\n')) {
        if (line === '') continue;
        const e = JSON.parse(line) as { type: string; time: string; auth?: { display_name?: string; policies?: string[] }; request?: { operation?: string; path?: string } };
        if (e.type !== 'request') continue;
        requests.push({ time: e.time, operation: e.request?.operation ?? '', path: e.request?.path ?? '', displayName: e.auth?.display_name, policies: e.auth?.policies ?? [] });
      }
      return requests;
    },
    request,
    write: async (path, body, method = 'POST') => await doWrite(method, path, body, true),
    read: async (path) => await request('GET', path),

    enableKvV1: async (mount) => {
      await doWrite('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '1' } }, true);
    },
    enableKvV2: async (mount) => {
      await doWrite('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } }, true);
      await waitKvV2Ready(mount);
    },
    putSecret: async (mount, path, data, version) => {
      if (version === 1) await doWrite('POST', `${mount}/${path}`, data, true);
      else await doWrite('POST', `${mount}/data/${path}`, { data }, true);
    },
    getSecret: async (mount, path, version) => {
      const r = await request('GET', version === 1 ? `${mount}/${path}` : `${mount}/data/${path}`);
      if (r.status === 404) return null;
      mustOk(`read ${mount}/${path}`, r);
      return version === 1 ? r.body.data : r.body.data.data;
    },
    writePolicy: async (name, hcl) => {
      await doWrite('PUT', `sys/policies/acl/${name}`, { policy: hcl }, true);
    },
    writeReadPolicy: async (name, mounts) => {
      const hcl = mounts.map((m) => `path "${m}/*" {\n  capabilities = ["read", "list"]\n}\n`).join('\n');
      await handle.writePolicy(name, hcl);
    },

    enableApprole: async (mount = 'approle') => {
      await doWrite('POST', `sys/auth/${mount}`, { type: 'approle' }, true);
    },
    createApproleRole: async (roleName, policies, o = {}) => {
      const mount = o.mount ?? 'approle';
      await doWrite('POST', `auth/${mount}/role/${roleName}`, { token_policies: policies, ...(o.tokenTtl ? { token_ttl: o.tokenTtl } : {}) }, true);
      const roleId = randomUUID();
      await doWrite('POST', `auth/${mount}/role/${roleName}/role-id`, { role_id: roleId }, true);
      const secretId = await handle.createApproleSecretId(roleName, mount);
      return { roleName, roleId, secretId, mount };
    },
    createApproleSecretId: async (roleName, mount = 'approle') => {
      const secretId = randomUUID();
      await doWrite('POST', `auth/${mount}/role/${roleName}/custom-secret-id`, { secret_id: secretId }, true);
      return secretId;
    },
    loginApprole: async (roleId, secretId, mount = 'approle') => {
      const r = mustOk('approle login', await request('POST', `auth/${mount}/login`, { role_id: roleId, secret_id: secretId }, ''));
      return r.body.auth.client_token as string;
    },

    enableUserpass: async (mount = 'userpass') => {
      await doWrite('POST', `sys/auth/${mount}`, { type: 'userpass' }, true);
    },
    createUser: async (username, password, policies, mount = 'userpass') => {
      await doWrite('POST', `auth/${mount}/users/${username}`, { password, token_policies: policies }, true);
    },
    loginUserpass: async (username, password, mount = 'userpass') => {
      const r = mustOk('userpass login', await request('POST', `auth/${mount}/login/${username}`, { password }, ''));
      return r.body.auth.client_token as string;
    },

    enableKubernetes: async (tr, mount = 'kubernetes') => {
      await doWrite('POST', `sys/auth/${mount}`, { type: 'kubernetes' }, true);
      await doWrite(
        'POST',
        `auth/${mount}/config`,
        {
          kubernetes_host: tr.url,
          kubernetes_ca_cert: tr.caCertPem,
          token_reviewer_jwt: tr.reviewerJwt,
          disable_local_ca_jwt: true,
          disable_iss_validation: true,
        },
        true,
      );
    },
    createKubernetesRole: async (roleName, sa, policies, mount = 'kubernetes') => {
      await doWrite(
        'POST',
        `auth/${mount}/role/${roleName}`,
        { bound_service_account_names: sa.names, bound_service_account_namespaces: sa.namespaces, token_policies: policies },
        true,
      );
    },
    loginKubernetes: async (roleName, token, mount = 'kubernetes') => {
      const jwt = typeof token === 'string' ? token : token.jwt;
      const r = mustOk('kubernetes login', await request('POST', `auth/${mount}/login`, { role: roleName, jwt }, ''));
      return r.body.auth.client_token as string;
    },

    ...processLifecycle(() => proc, [port], dir),
    restart: async () => {
      await handle.stop();
      await launch();
      await replay();
    },
    pause: async () => {
      const pid = proc!.child.pid!;
      process.kill(pid, 'SIGSTOP');
      // The signal is delivered asynchronously: wait until every thread shows state T (stopped).
      const stopped = () => readdirSync(`/proc/${pid}/task`).every((t) => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')));
      for (let i = 0; i < 200 && !stopped(); i++) await new Promise((r) => setTimeout(r, 5));
    },
    resume: () => {
      process.kill(proc!.child.pid!, 'SIGCONT');
    },
  };
  return handle;
}

/** A bare OpenBao dev server listening with TLS (`-dev-tls`: its own CA, a certificate for 127.0.0.1). */
export interface OpenBaoTlsServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly rootToken: string;
  /** The CA that signed the server's certificate (PEM file). */
  readonly caFile: string;
  dispose(): Promise<void>;
}

export async function startOpenBaoTls(opts: { timeoutMs?: number } = {}): Promise<OpenBaoTlsServer> {
  const port = await freePort();
  const rootToken = `root-${randomUUID()}`;
  const dir = makeTempDir('openbao-tls');
  const url = `https://${LOOPBACK}:${port}`;
  const caFile = join(dir, 'vault-ca.pem');
  const proc = spawnManaged(
    venvTool('bao'),
    ['server', '-dev', '-dev-tls', `-dev-tls-cert-dir=${dir}`, `-dev-listen-address=${LOOPBACK}:${port}`, `-dev-root-token-id=${rootToken}`, '-dev-no-store-token', '-log-level=info'],
    { cwd: dir, logFile: join(dir, 'bao.log'), env: { HOME: dir, BAO_ADDR: url, VAULT_ADDR: url, BAO_TOKEN: '', VAULT_TOKEN: '' } },
  );
  const healthy = () =>
    new Promise<boolean>((resolve) => {
      if (!existsSync(caFile)) return resolve(false);
      const req = httpsRequest(`${url}/v1/sys/health`, { ca: readFileSync(caFile), timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  await waitReady('openbao (tls)', proc, healthy, opts.timeoutMs ?? 20_000, 50);
  const lifecycle = processLifecycle(() => proc, [port], dir);
  return { url, rootToken, caFile, dispose: lifecycle.dispose };
}
