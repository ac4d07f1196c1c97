// TLS for the API port and the metrics port (server.tls). The certificate, key and CA
// bundle are files, read at start and followed afterwards: a change on disk (an edit, a
// rename over the file, or the `..data` symlink swap of a Kubernetes Secret volume) is read,
// checked, and given to every server with setSecureContext: new connections get the new
// certificate, open ones keep theirs. A new set that does not check out (unparsable, a key
// that does not belong to the certificate, expired) is refused with an error log and a
// metric, and the last good one keeps serving. Refused handshakes are logged and counted.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import path from 'node:path';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ConfigError } from '../config/errors.ts';
import type { GatewayConfig, ServerTlsConfig } from '../config/schema.ts';
import { certificatePolicyProblems } from '../auth/client-cert.ts';
import { followFiles, statSignature } from '../support/follow-files.ts';

/** What one reading of the files gives: the context options and what the logs say about it. */
export interface TlsMaterial {
  context: SecureContextOptions;
  /** The server certificate's expiry, in ms since the epoch. */
  notAfter: number;
  subject: string;
  fingerprint256: string;
}

type FileKey = 'cert_file' | 'key_file' | 'ca_file';

function filesOf(tls: ServerTlsConfig, baseDir: string): Array<[FileKey, string]> {
  const keys: FileKey[] = tls.ca_file ? ['cert_file', 'key_file', 'ca_file'] : ['cert_file', 'key_file'];
  return keys.map((key) => [key, path.resolve(baseDir, tls[key]!)]);
}

/** Checks what the schema cannot: `[key path, message]` per problem (config check and serve). */
export function tlsConfigProblems(tls: ServerTlsConfig): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  if (tls.client_auth !== 'none' && !tls.ca_file) problems.push(['server.tls.ca_file', `client_auth "${tls.client_auth}" needs the CA that client certificates must chain to`]);
  if (tls.certificate_only && tls.client_auth === 'none') problems.push(['server.tls.certificate_only', 'needs client_auth request or require']);
  return problems;
}

/**
 * Reads and checks the files; throws a ConfigError naming the key at fault. Messages name files
 * and OpenSSL's reason, never key material.
 */
export function readTlsMaterial(tls: ServerTlsConfig, baseDir: string, now = Date.now()): TlsMaterial {
  const problem = tlsConfigProblems(tls)[0];
  if (problem) throw new ConfigError(problem[0], problem[1]);
  const content = new Map<FileKey, Buffer>();
  for (const [key, file] of filesOf(tls, baseDir)) {
    try {
      content.set(key, readFileSync(file));
    } catch (err) {
      throw new ConfigError(`server.tls.${key}`, `${file}: ${(err as NodeJS.ErrnoException).code ?? 'cannot read'}`);
    }
  }
  const cert = content.get('cert_file')!;
  const key = content.get('key_file')!;
  const ca = content.get('ca_file');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new ConfigError('server.tls.cert_file', 'is not a PEM certificate');
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new ConfigError('server.tls.key_file', "is not the private key of cert_file's certificate");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('server.tls.key_file', 'is not an unencrypted PEM private key');
  }
  const notAfter = Date.parse(leaf.validTo);
  if (!(notAfter > now)) throw new ConfigError('server.tls.cert_file', `the certificate expired (${leaf.validTo})`);
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch {
      throw new ConfigError('server.tls.ca_file', 'is not a PEM certificate bundle');
    }
  }
  const context: SecureContextOptions = { cert, key, minVersion: tls.min_version, ...(ca ? { ca } : {}) };
  try {
    createSecureContext(context);
  } catch (err) {
    throw new ConfigError('server.tls', `OpenSSL refuses the certificate, key or CA: ${(err as Error).message}`);
  }
  return { context, notAfter, subject: leaf.subject.replaceAll('\n', ', '), fingerprint256: leaf.fingerprint256 };
}

/**
 * What `serve` and `config check` refuse about TLS: the files (as readTlsMaterial reads them), and a
 * policy matching a certificate's claims where no client certificate is asked for (it could only
 * be matched by a token's claims of the same name).
 */
export function checkServerTls(config: Pick<GatewayConfig, 'server' | 'auth' | 'baseDir'>): void {
  if (config.server.tls) readTlsMaterial(config.server.tls, config.baseDir);
  const problem = certificatePolicyProblems(config.auth?.policies ?? [], config.server.tls?.client_auth ?? 'none')[0];
  if (problem) throw new ConfigError(problem[0], problem[1]);
}

/** Node's options for the API port's server: the context, plus whether client certificates are asked or required. */
export function apiServerOptions(tls: ServerTlsConfig, material: TlsMaterial): HttpsServerOptions {
  return { ...material.context, requestCert: tls.client_auth !== 'none', rejectUnauthorized: tls.client_auth === 'require' };
}

/** The metrics port: the same certificate, and no client certificate asked (Prometheus scrapes with a CA bundle; metrics hold no secrets). */
export function metricsServerOptions(material: TlsMaterial): HttpsServerOptions {
  return { ...material.context, requestCert: false, rejectUnauthorized: false };
}

export type HandshakeFailure = 'no_client_certificate' | 'bad_client_certificate' | 'plain_http' | 'protocol_version' | 'timeout' | 'closed' | 'other';

/**
 * A refused handshake's reason (bounded: a metric label), from the error Node gives. A client
 * certificate that does not verify under `require` reaches here as a reset (Node closes the socket
 * after the handshake), with the verification error on the socket.
 */
export function handshakeFailure(err: NodeJS.ErrnoException, authorizationError?: unknown): HandshakeFailure {
  if (authorizationError) return 'bad_client_certificate';
  switch (err.code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'no_client_certificate';
    case 'ERR_SSL_CERTIFICATE_VERIFY_FAILED':
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
      return 'bad_client_certificate';
    case 'ERR_SSL_HTTP_REQUEST':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'plain_http';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
      return 'protocol_version';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'closed';
    default:
      return 'other';
  }
}

interface TlsMetrics {
  reloads: Counter<'outcome'>;
  handshakeFailures: Counter<'reason'>;
  notAfter: Gauge;
}

function tlsMetrics(registry: Registry): TlsMetrics {
  const registers = [registry];
  return {
    reloads: new Counter({
      name: 'secrets_gateway_tls_reloads_total',
      help: 'Certificate files that changed on disk, by outcome: loaded (now served) or refused (the previous certificate is still served).',
      labelNames: ['outcome'],
      registers,
    }),
    handshakeFailures: new Counter({
      name: 'secrets_gateway_tls_handshake_failures_total',
      help: 'TLS handshakes refused, and connections closed for a client certificate that does not verify, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    notAfter: new Gauge({ name: 'secrets_gateway_tls_certificate_not_after_seconds', help: 'Unix time at which the served certificate expires.', registers }),
  };
}

const signatureOf = (files: Array<[FileKey, string]>): string =>
  files
    .map(([, file]) => {
      try {
        return statSignature(statSync(file));
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? 'error';
      }
    })
    .join('|');

export interface ServerTlsOptions {
  tls: ServerTlsConfig;
  baseDir: string;
  logger: Logger;
  /** How often the files are stat()ed besides the directory watch (missed events, targets elsewhere). */
  pollIntervalMs?: number;
  /** How long after a change event the files are read (a writer that writes cert and key one after the other). */
  settleMs?: number;
}

/** The TLS of one gateway process: the material in use, the servers using it, and the watch on the files. */
export class ServerTls {
  private readonly options: ServerTlsOptions;
  private readonly files: Array<[FileKey, string]>;
  private material: TlsMaterial;
  private loadedSignature: string;
  private readonly servers: TlsServer[] = [];
  private metrics: TlsMetrics | undefined;
  private stopFollowing: (() => void) | undefined;

  /** Reads the files once; throws a ConfigError when they do not check out (the gateway does not start). */
  constructor(options: ServerTlsOptions) {
    this.options = options;
    this.files = filesOf(options.tls, options.baseDir);
    this.loadedSignature = signatureOf(this.files);
    this.material = readTlsMaterial(options.tls, options.baseDir);
  }

  get apiServerOptions(): HttpsServerOptions {
    return apiServerOptions(this.options.tls, this.material);
  }

  get metricsServerOptions(): HttpsServerOptions {
    return metricsServerOptions(this.material);
  }

  /** The certificate served now (for logs and tests). */
  get current(): TlsMaterial {
    return this.material;
  }

  /**
   * Follows `server` from now on: it gets every new certificate, and its refused handshakes are
   * logged and counted. `clientCertificates` is false for a server that asks for none (metrics).
   */
  serve(server: TlsServer, registry: Registry, clientCertificates = true): void {
    this.metrics ??= tlsMetrics(registry);
    this.metrics.notAfter.set(this.material.notAfter / 1000);
    this.servers.push(server);
    const { logger } = this.options;
    // A refused socket is destroyed before the log line is written, and a destroyed socket no longer
    // knows its peer: ask the TCP socket now (getpeername, cached on it) and read it back from there.
    server.prependListener('connection', (raw: Socket) => void raw.remoteAddress);
    const clientOf = (socket: TLSSocket): string | undefined => socket.remoteAddress ?? (socket as { _parent?: Socket })._parent?.remoteAddress;
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      const authorizationError = socket.authorizationError;
      const reason = handshakeFailure(err, authorizationError);
      this.metrics!.handshakeFailures.inc({ reason });
      // A client that hangs up mid-handshake (a TCP probe, a scanner) is not worth a warning.
      logger[reason === 'closed' ? 'debug' : 'warn'](
        { client: clientOf(socket), reason, err_code: authorizationError ? String(authorizationError) : err.code },
        'TLS handshake refused',
      );
    });
    if (clientCertificates && this.options.tls.client_auth === 'request') {
      // `request` asks for a certificate but lets the handshake finish without one (Node cannot
      // refuse only the bad ones); one that was sent and does not verify closes the connection here,
      // before the HTTP server sees it.
      server.prependListener('secureConnection', (socket: TLSSocket) => {
        if (socket.authorized) return;
        const peer = socket.getPeerCertificate();
        if (!peer || Object.keys(peer).length === 0) return;
        this.metrics!.handshakeFailures.inc({ reason: 'bad_client_certificate' });
        logger.warn({ client: socket.remoteAddress, reason: 'bad_client_certificate', err_message: String(socket.authorizationError) }, 'TLS client certificate refused; connection closed');
        socket.destroy();
      });
    }
    if (this.servers.length === 1) this.follow();
  }

  /** Re-reads the files if they changed since the last reading (the watch and the poll call it). */
  reloadIfChanged(): void {
    const signature = signatureOf(this.files);
    if (signature === this.loadedSignature) return;
    // Remembered whatever the outcome, so a refused set is logged once, not at every poll.
    this.loadedSignature = signature;
    const { logger } = this.options;
    let material: TlsMaterial;
    try {
      material = readTlsMaterial(this.options.tls, this.options.baseDir);
    } catch (err) {
      this.metrics?.reloads.inc({ outcome: 'refused' });
      logger.error({ err_message: (err as Error).message, serving: this.material.subject, not_after: new Date(this.material.notAfter).toISOString() }, 'TLS files changed but cannot be used; still serving the previous certificate');
      return;
    }
    for (const server of this.servers) server.setSecureContext(material.context);
    this.material = material;
    this.metrics?.reloads.inc({ outcome: 'loaded' });
    this.metrics?.notAfter.set(material.notAfter / 1000);
    logger.info({ subject: material.subject, fingerprint256: material.fingerprint256, not_after: new Date(material.notAfter).toISOString() }, 'TLS certificate reloaded; new connections get it');
  }

  close(): void {
    this.stopFollowing?.();
    this.stopFollowing = undefined;
  }

  private follow(): void {
    const files = this.files.map(([, file]) => file);
    this.stopFollowing = followFiles(files, () => this.reloadIfChanged(), { pollMs: this.options.pollIntervalMs ?? 5000, settleMs: this.options.settleMs ?? 100 });
  }
}
