// The Vault (and OpenBao) calls of the Vault backend, through node-vault's client: one method per
// Vault operation (KV read, the logins, lookup-self, renew-self). Ours around it:
// - the token's lifecycle: one login shared by every waiting request, renewal before expiry,
//   re-login when Vault says the token is dead;
// - one exit for errors: a BackendError with our code, the HTTP status and Vault's error strings
//   (VaultError), never a request, its X-Vault-Token header or a login body;
// - the HTTP transport, given through node-vault's `request-promise` option instead of its axios:
//   an axios error carries its request config, headers included, into whatever logs it; axios
//   parses bodies with JSON.parse, which loses what Python's json.loads keeps (1.0, big ints, key
//   order); and node-vault passes axios no AbortSignal for the backend's deadline.
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import https from 'node:https';
import createVault from 'node-vault';
import type { Logger } from 'pino';
import { http } from '../../support/node-http.ts';
import { networkError } from '../resilience.ts';
import { BackendError, type BackendErrorCode } from '../types.ts';

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

/** A Vault answer that is not a success: our code, the HTTP status and Vault's `errors` strings, nothing else. */
export class VaultError extends BackendError {
  readonly status: number;
  readonly vaultErrors: string[];
  constructor(code: BackendErrorCode, message: string, status: number, vaultErrors: string[]) {
    super(code, message);
    this.status = status;
    this.vaultErrors = vaultErrors;
  }
}

interface CurrentToken {
  token: string;
  /** When it expires (ms since epoch); undefined for a token that does not expire. */
  expiresAt: number | undefined;
}

/** node-vault's `request-promise` contract: what it hands the transport, and what it expects back. */
type TransportRequest = { method: string; uri: string; headers?: Record<string, string>; json?: unknown; signal?: AbortSignal };
type TransportResponse = { statusCode: number; body: unknown; request: { path: string } };
/** Per-call options node-vault passes through to the transport. */
type CallOptions = { headers?: Record<string, string>; signal: AbortSignal };

/** Renew or log in again when this fraction of a token's lifetime has passed. */
const REFRESH_AT = 2 / 3;

/** The text of each JSON body the transport parsed, for the callers that must parse it as Python does. */
const bodyText = new WeakMap<object, string>();

export class VaultClient {
  private readonly options: VaultClientOptions;
  private readonly vault: ReturnType<typeof createVault>;
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
    this.agent = new URL(options.url).protocol === 'https:' ? new https.Agent({ keepAlive: true, ...options.tls }) : new http.Agent({ keepAlive: true });
    this.vault = createVault({
      endpoint: options.url,
      // node-vault's own debug() prints every request body (secret ids, passwords) when DEBUG names it.
      debug: () => undefined,
      'request-promise': { defaults: () => (req: TransportRequest) => this.send(req) },
    });
    // node-vault holds no token: each call names its own in its header, so a call never goes out with
    // a token it did not choose (a login after a revocation, say), and no login leaves one behind.
    // (node-vault would also take VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX from the process
    // environment; here the configuration alone decides.)
    Object.defineProperty(this.vault, 'token', { get: () => '', set: () => undefined });
    (this.vault as { namespace?: string }).namespace = options.namespace ?? '';
    (this.vault as { pathPrefix?: string }).pathPrefix = '';
  }

  /**
   * KV read (data or metadata; `apiPath` without /v1): the body's text, for the caller to parse, or
   * null when Vault answers 404. Logs in first if there is no token, and once more if it is dead.
   */
  read(apiPath: string, signal: AbortSignal): Promise<string | null> {
    return this.withToken('read', signal, (opts) =>
      this.vault.read(apiPath, opts).then(
        (body) => textOf(body, this.options.backendName),
        (err: unknown) => (statusOf(err) === 404 ? null : Promise.reject(err)),
      ),
    );
  }

  /** KV v2 data write (the write API), with check-and-set in `body.options.cas`. A refusal is a
   * VaultError: its status and Vault's `errors` strings say why (400 "check-and-set parameter did not match"). */
  write(apiPath: string, body: unknown, signal: AbortSignal): Promise<void> {
    return this.withToken('write', signal, (opts) => this.vault.write(apiPath, body, opts).then(() => undefined));
  }

  /** KV v2 metadata delete (every version): true when Vault deleted it, false when it answers 404. */
  remove(apiPath: string, signal: AbortSignal): Promise<boolean> {
    return this.withToken('delete', signal, (opts) =>
      this.vault.delete(apiPath, opts).then(
        () => true,
        (err: unknown) => (statusOf(err) === 404 ? false : Promise.reject(err)),
      ),
    );
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

  /**
   * Runs one call with the current token. 403 is both "this token is dead" and "this token may not
   * read that path": lookup-self tells which, and a dead token is replaced (one login for all) and
   * the call made once more.
   */
  private async withToken<T>(what: string, signal: AbortSignal, run: (opts: CallOptions) => Promise<T>): Promise<T> {
    const { token } = await this.token();
    try {
      return await this.call(what, signal, () => run(this.callOptions(token, signal)));
    } catch (err) {
      if (!(err instanceof VaultError && err.status === 403) || (await this.tokenIsValid(token, signal))) throw err;
    }
    const renewed = await this.replaceToken(token, 'token rejected');
    return this.call(what, signal, () => run(this.callOptions(renewed.token, signal)));
  }

  private callOptions(token: string, signal: AbortSignal): CallOptions {
    return token ? { headers: { 'X-Vault-Token': token }, signal } : { signal };
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
      const data = (await this.lookupSelf(token, signal))?.data ?? {};
      leaseSeconds = Number(data.ttl ?? 0);
      renewable = Boolean(data.renewable);
    } else {
      const authBlock = (await this.loginCall(auth, signal))?.auth;
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

  /** GET auth/token/lookup-self. A token Vault refuses is `auth_failed`. */
  private lookupSelf(token: string, signal: AbortSignal): Promise<any> {
    return this.call('token lookup', signal, () => this.vault.tokenLookupSelf({ requestOptions: this.callOptions(token, signal) }), [403]);
  }

  /** The approle, kubernetes or userpass login. A credential Vault refuses (400 or 403) is `auth_failed`. */
  private loginCall(auth: Exclude<VaultAuth, { type: 'token' }>, signal: AbortSignal): Promise<any> {
    // node-vault renders mount and username into the path with Mustache, which HTML-escapes: encode them first.
    const common = { mount_point: pathSegment(auth.mount), requestOptions: { signal } };
    return this.call(`${auth.type} login`, signal, () => {
      switch (auth.type) {
        case 'approle': {
          const secretId = auth.secretIdPath ? this.readFile(auth.secretIdPath, 'secret_id_path').trim() : auth.secretId;
          return this.vault.approleLogin({ ...common, role_id: auth.roleId, ...(secretId ? { secret_id: secretId } : {}) });
        }
        case 'kubernetes':
          // Re-read every time: the kubelet rotates the projected service account token.
          return this.vault.kubernetesLogin({ ...common, role: auth.role, jwt: this.readFile(auth.jwtPath, 'kubernetes_jwt_path').trim() });
        case 'userpass':
          return this.vault.userpassLogin({ ...common, username: pathSegment(auth.username), password: auth.password });
      }
    }, [400, 403]);
  }

  /** POST auth/token/renew-self: the new lease in seconds. */
  private async renewSelf(token: string, signal: AbortSignal): Promise<number> {
    const res = await this.call('token renewal', signal, () => this.vault.tokenRenewSelf({ requestOptions: this.callOptions(token, signal) }));
    return Number(res?.auth?.lease_duration ?? 0);
  }

  /**
   * The one exit for errors: every node-vault call runs here. Ours pass through; a Vault answer
   * becomes a VaultError (`refused` statuses: auth_failed); anything else node-vault throws (its
   * argument validation) is named only.
   */
  private async call<T>(what: string, signal: AbortSignal, run: () => Promise<T>, refused: number[] = []): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const name = this.options.backendName;
      if (err instanceof BackendError) throw err;
      const status = statusOf(err);
      if (status !== undefined && refused.includes(status)) throw new VaultError('auth_failed', `${name}: Vault refused the ${what} (HTTP ${status})`, status, vaultErrorsOf(err));
      if (status !== undefined) {
        const { code, message } = statusError(name, status, what);
        // statusError builds only catalog codes.
        throw new VaultError(code as BackendErrorCode, message, status, vaultErrorsOf(err));
      }
      if (signal.aborted) throw networkError(name, err, signal);
      throw new BackendError('backend_error', `${name}: the ${what} failed in the Vault client (${(err as Error)?.name ?? typeof err})`);
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
        const lease = await this.renewSelf(current.token, AbortSignal.timeout(this.options.authTimeoutMs));
        if (lease >= fullLeaseSeconds * 0.9) {
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
      check = this.lookupSelf(token, signal)
        .then(
          () => true,
          (err: unknown) => {
            // Any answer from Vault other than 200 means the token is not usable; a network failure is thrown.
            if (err instanceof VaultError) return false;
            throw err;
          },
        )
        .finally(() => this.verifying.delete(token));
      this.verifying.set(token, check);
    }
    return check;
  }

  /** node-vault's transport: one HTTP call on our agent, cancelled by the caller's signal. */
  private send(req: TransportRequest): Promise<TransportResponse> {
    const url = new URL(req.uri);
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    const body = typeof req.json === 'object' && req.json !== null ? JSON.stringify(req.json) : undefined;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signal = req.signal ?? AbortSignal.timeout(this.options.authTimeoutMs);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method: req.method, headers, agent: this.agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ statusCode: res.statusCode ?? 0, body: parseBody(text), request: { path: url.pathname } });
        });
        res.on('error', (err) => reject(networkError(this.options.backendName, err, signal)));
      });
      request.on('error', (err) => reject(networkError(this.options.backendName, err, signal)));
      request.end(body);
    });
  }

  private readFile(file: string, option: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new BackendError('auth_failed', `${this.options.backendName}: cannot read ${option} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

/** A Vault status that is not an answer: 429 throttled, 412/5xx server error (retried), anything else a plain failure. */
function statusError(backendName: string, status: number, what: string): BackendError {
  if (status === 429) return new BackendError('throttled', `${backendName}: ${what} was throttled (HTTP 429)`);
  if (status === 412 || status >= 500) return new BackendError('server_error', `${backendName}: ${what} failed (HTTP ${status})`);
  if (status === 403) return new BackendError('access_denied', `${backendName}: ${what} was denied (HTTP 403)`);
  return new BackendError('backend_error', `${backendName}: ${what} failed (HTTP ${status})`);
}

/** JSON for node-vault (which reads `errors` and `auth` from it), the text kept for textOf(); text that is not JSON stays text. */
function parseBody(text: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof body === 'object' && body !== null) bodyText.set(body, text);
  return body;
}

/** The text of a body the transport returned. */
function textOf(body: unknown, backendName: string): string {
  const text = typeof body === 'string' ? body : typeof body === 'object' && body !== null ? bodyText.get(body) : undefined;
  if (text === undefined) throw new BackendError('backend_error', `${backendName}: Vault answered with a body that is not a JSON object`);
  return text;
}

/** The HTTP status of node-vault's ApiResponseError (a Vault answer other than 200/204). */
function statusOf(err: unknown): number | undefined {
  const status = (err as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Vault's `errors` strings, bounded: they name a reason ("permission denied"), never a token or a value. */
function vaultErrorsOf(err: unknown): string[] {
  const errors = (err as { response?: { body?: { errors?: unknown } } }).response?.body?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').slice(0, 5).map((e) => e.slice(0, 200)) : [];
}

/** encodeURIComponent, and the apostrophe too: what is left has nothing Mustache's HTML escaping changes. */
function pathSegment(s: string): string {
  return encodeURIComponent(s).replace(/'/g, '%27');
}
