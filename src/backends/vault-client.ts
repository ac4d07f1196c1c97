// A small client for the parts of the Vault (and OpenBao) HTTP API the Vault
// backend needs: KV reads, logins and token renewal.
//
// Why not node-vault: it is built on axios, whose errors carry the request
// config (with the X-Vault-Token header) into whatever logs them; it validates
// with tv4 and templates URLs with mustache, and the part that matters here —
// one login shared by every waiting request, renewal before expiry, re-login
// when a token is revoked — would be ours anyway. The API surface used is five
// endpoints, so node:http(s) with our own timeout signal is the smaller thing.
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { http } from '../node-http.ts';
import https from 'node:https';
import type { Logger } from 'pino';
import { networkError } from './resilience.ts';
import { BackendError } from './types.ts';

export type VaultAuth =
  | { type: 'token'; token?: string | undefined; tokenPath?: string | undefined }
  | { type: 'approle'; mount: string; roleId: string; secretId?: string | undefined; secretIdPath?: string | undefined }
  | { type: 'kubernetes'; mount: string; role: string; jwtPath: string }
  | { type: 'userpass'; mount: string; username: string; password: string };

export interface VaultTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

export interface VaultClientOptions {
  backendName: string;
  url: string;
  namespace?: string | undefined;
  tls: VaultTls;
  auth: VaultAuth;
  /** Deadline for a login or a renewal, which is shared by every waiting request. */
  authTimeoutMs: number;
  logger: Logger;
}

export interface VaultResponse {
  status: number;
  text: string;
}

interface CurrentToken {
  token: string;
  /** When it expires (ms since epoch); undefined for a token that does not expire. */
  expiresAt: number | undefined;
}

/** Renew or log in again when this fraction of a token's lifetime has passed. */
const REFRESH_AT = 2 / 3;

export class VaultClient {
  private readonly options: VaultClientOptions;
  private readonly base: URL;
  private readonly agent: Agent;
  private current: CurrentToken | undefined;
  private loggingIn: Promise<CurrentToken> | undefined;
  private readonly verifying = new Map<string, Promise<boolean>>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** How many logins this client has made (tests and the log read it; it holds no secret). */
  logins = 0;

  constructor(options: VaultClientOptions) {
    this.options = options;
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...options.tls })
        : new http.Agent({ keepAlive: true });
  }

  /** One HTTP call. Network failures become `unreachable`/`timeout`; the status is the caller's to judge. */
  request(method: string, apiPath: string, opts: { token?: string; body?: unknown; signal: AbortSignal }): Promise<VaultResponse> {
    const url = new URL(`v1/${apiPath}`, this.base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token) headers['x-vault-token'] = opts.token;
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent: this.agent, signal: opts.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(networkError(this.options.backendName, err, opts.signal)));
      });
      req.on('error', (err) => reject(networkError(this.options.backendName, err, opts.signal)));
      req.end(body);
    });
  }

  /** A read with the current token; logs in first if there is none, and once more if the token turns out to be dead. */
  async authorizedGet(apiPath: string, signal: AbortSignal): Promise<VaultResponse> {
    const { token } = await this.token();
    const res = await this.request('GET', apiPath, { token, signal });
    if (res.status !== 403) return res;
    // 403 is both "this token is dead" and "this token may not read that path": ask Vault which.
    if (await this.tokenIsValid(token, signal)) return res;
    const renewed = await this.replaceToken(token, 'token rejected');
    return this.request('GET', apiPath, { token: renewed.token, signal });
  }

  /** A write (the write API: KV v2 data and metadata), with the same token handling as authorizedGet. */
  async authorizedWrite(method: 'POST' | 'DELETE', apiPath: string, body: unknown, signal: AbortSignal): Promise<VaultResponse> {
    const { token } = await this.token();
    const res = await this.request(method, apiPath, { token, body, signal });
    if (res.status !== 403 || (await this.tokenIsValid(token, signal))) return res;
    const renewed = await this.replaceToken(token, 'token rejected');
    return this.request(method, apiPath, { token: renewed.token, body, signal });
  }

  /** Logs in (at startup), so that a bad credential shows at once. */
  async init(): Promise<void> {
    await this.token();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.refreshTimer);
    this.agent.destroy();
  }

  private token(): Promise<CurrentToken> {
    if (this.current) return Promise.resolve(this.current);
    return this.login('no token');
  }

  /** Drops `stale` (if it is still the current token) and logs in again; concurrent callers share one login. */
  private replaceToken(stale: string, reason: string): Promise<CurrentToken> {
    if (this.current && this.current.token !== stale) return Promise.resolve(this.current);
    if (this.current?.token === stale) this.current = undefined;
    return this.login(reason);
  }

  /** One login at a time: every request that needs a token while it runs waits for the same one. */
  private login(reason: string): Promise<CurrentToken> {
    this.loggingIn ??= this.doLogin(reason).finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  private async doLogin(reason: string): Promise<CurrentToken> {
    const { auth, logger, backendName } = this.options;
    const signal = AbortSignal.timeout(this.options.authTimeoutMs);
    let token: string;
    let leaseSeconds: number;
    let renewable: boolean;
    if (auth.type === 'token') {
      token = auth.tokenPath ? this.readFile(auth.tokenPath, 'token_path').trim() : (auth.token ?? '');
      // A given token: ask Vault how long it lives, so it can be renewed in time.
      const res = await this.request('GET', 'auth/token/lookup-self', { token, signal });
      if (res.status === 403) throw new BackendError('auth_failed', `${backendName}: Vault rejected the configured token`);
      const data = this.json(res, 'token lookup')?.data ?? {};
      leaseSeconds = Number(data.ttl ?? 0);
      renewable = Boolean(data.renewable);
    } else {
      const [path, body] = this.loginRequest(auth);
      const res = await this.request('POST', path, { body, signal });
      if (res.status === 400 || res.status === 403) throw new BackendError('auth_failed', `${backendName}: Vault refused the ${auth.type} login (HTTP ${res.status})`);
      const authBlock = this.json(res, `${auth.type} login`)?.auth;
      if (typeof authBlock?.client_token !== 'string') throw new BackendError('auth_failed', `${backendName}: the ${auth.type} login returned no token`);
      token = authBlock.client_token;
      leaseSeconds = Number(authBlock.lease_duration ?? 0);
      renewable = Boolean(authBlock.renewable);
    }
    this.logins += 1;
    const current: CurrentToken = { token, expiresAt: leaseSeconds > 0 ? Date.now() + leaseSeconds * 1000 : undefined };
    if (!this.closed) this.current = current;
    logger.info({ backend: backendName, auth_type: auth.type, reason, ttl_seconds: leaseSeconds, renewable, logins: this.logins }, 'vault login');
    this.scheduleRefresh(leaseSeconds, renewable, leaseSeconds);
    return current;
  }

  private loginRequest(auth: Exclude<VaultAuth, { type: 'token' }>): [string, Record<string, string>] {
    const mount = encodeURIComponent(auth.mount);
    switch (auth.type) {
      case 'approle': {
        const secretId = auth.secretIdPath ? this.readFile(auth.secretIdPath, 'secret_id_path').trim() : auth.secretId;
        return [`auth/${mount}/login`, { role_id: auth.roleId, ...(secretId ? { secret_id: secretId } : {}) }];
      }
      case 'kubernetes':
        // Re-read every time: the kubelet rotates the projected service account token.
        return [`auth/${mount}/login`, { role: auth.role, jwt: this.readFile(auth.jwtPath, 'kubernetes_jwt_path').trim() }];
      case 'userpass':
        return [`auth/${mount}/login/${encodeURIComponent(auth.username)}`, { password: auth.password }];
    }
  }

  /**
   * Before a token expires: renew it while renewal gives it a full lease again; once its
   * max TTL caps the renewal (or it is not renewable), log in again instead.
   */
  private scheduleRefresh(leaseSeconds: number, renewable: boolean, fullLeaseSeconds: number): void {
    clearTimeout(this.refreshTimer);
    if (this.closed || leaseSeconds <= 0) return;
    this.refreshTimer = setTimeout(() => void this.refresh(renewable, fullLeaseSeconds), leaseSeconds * 1000 * REFRESH_AT);
    this.refreshTimer.unref();
  }

  private async refresh(renewable: boolean, fullLeaseSeconds: number): Promise<void> {
    const current = this.current;
    if (!current || this.closed) return;
    const { logger, backendName, auth } = this.options;
    try {
      if (renewable) {
        const res = await this.request('POST', 'auth/token/renew-self', { token: current.token, body: {}, signal: AbortSignal.timeout(this.options.authTimeoutMs) });
        const lease = Number(this.json(res, 'token renewal')?.auth?.lease_duration ?? 0);
        if (res.status === 200 && lease >= fullLeaseSeconds * 0.9) {
          current.expiresAt = Date.now() + lease * 1000;
          logger.debug({ backend: backendName, ttl_seconds: lease }, 'vault token renewed');
          this.scheduleRefresh(lease, true, fullLeaseSeconds);
          return;
        }
      }
      // A given token cannot be replaced by a login; re-reading token_path picks up a rotated one.
      if (auth.type === 'token' && !auth.tokenPath) return;
      await this.replaceToken(current.token, 'token near expiry');
    } catch (err) {
      // The token is still valid for a while; the next request logs in if it has to.
      logger.warn({ backend: backendName, err_code: err instanceof BackendError ? err.code : 'error' }, 'vault token refresh failed');
    }
  }

  /** Whether a token is still alive (lookup-self); one check per token however many requests ask. */
  private tokenIsValid(token: string, signal: AbortSignal): Promise<boolean> {
    let check = this.verifying.get(token);
    if (!check) {
      check = this.request('GET', 'auth/token/lookup-self', { token, signal })
        .then((res) => res.status === 200)
        .finally(() => this.verifying.delete(token));
      this.verifying.set(token, check);
    }
    return check;
  }

  private readFile(file: string, option: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new BackendError('auth_failed', `${this.options.backendName}: cannot read ${option} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  // Auth responses hold tokens, never secret values; a parse failure is reported by status only.
  private json(res: VaultResponse, what: string): any {
    if (res.status >= 500 || res.status === 429 || res.status === 412) throw statusError(this.options.backendName, res.status, what);
    try {
      return JSON.parse(res.text);
    } catch {
      throw new BackendError('backend_error', `${this.options.backendName}: ${what} answered HTTP ${res.status} without JSON`);
    }
  }
}

/** A Vault status that is not an answer: 429 throttled, 412/5xx server error (retried), anything else a plain failure. */
export function statusError(backendName: string, status: number, what: string): BackendError {
  if (status === 429) return new BackendError('throttled', `${backendName}: ${what} was throttled (HTTP 429)`);
  if (status === 412 || status >= 500) return new BackendError('server_error', `${backendName}: ${what} failed (HTTP ${status})`);
  if (status === 403) return new BackendError('access_denied', `${backendName}: ${what} was denied (HTTP 403)`);
  return new BackendError('backend_error', `${backendName}: ${what} failed (HTTP ${status})`);
}
