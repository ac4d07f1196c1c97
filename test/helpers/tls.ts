// Certificates minted for a test with the `openssl` CLI (Debian's openssl package): a CA, and
// server or client certificates it signs, with the SANs the test asks for. EC P-256 keys,
// unencrypted PEM files in the test's directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { request, type Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { ServerTlsConfig } from '../../src/config/schema.ts';
import { ServerTls } from '../../src/http/tls.ts';
import { createLogger } from '../../src/logging.ts';
import { keepLog, startTestGateway } from './gateway.ts';

export interface Pem {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

const openssl = (args: string[]): void => {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function pem(certFile: string, keyFile: string): Pem {
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/** A self-signed CA. */
export function mintCa(dir: string, name: string): Pem {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl(['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/O=secrets-gateway tests/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return pem(certFile, keyFile);
}

/**
 * A certificate signed by `ca`: `sans` as OpenSSL writes them (`DNS:localhost`, `IP:127.0.0.1`,
 * `URI:spiffe://…`); `usage` serverAuth or clientAuth.
 */
export function mintCert(dir: string, ca: Pem, name: string, options: { cn: string; sans: string[]; usage: 'serverAuth' | 'clientAuth'; days?: number }): Pem {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl([
    'req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', String(options.days ?? 1),
    '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-subj', `/O=secrets-gateway tests/CN=${options.cn}`,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', `extendedKeyUsage=${options.usage}`,
    ...(options.sans.length ? ['-addext', `subjectAltName=${options.sans.join(',')}`] : []),
  ]);
  return pem(certFile, keyFile);
}

/**
 * A directory laid out as Kubernetes mounts a Secret: `tls.crt` and `tls.key` are symlinks through
 * `..data`, a symlink to a timestamped directory; `swap` writes a new one and renames a new `..data`
 * over the old one (one atomic rename, as the kubelet does).
 */
export function secretVolume(dir: string, files: Record<string, string>): { dir: string; swap(files: Record<string, string>): void } {
  mkdirSync(dir, { recursive: true });
  let generation = 0;
  const write = (content: Record<string, string>): string => {
    const name = `..gen_${++generation}`;
    mkdirSync(path.join(dir, name));
    for (const [file, text] of Object.entries(content)) writeFileSync(path.join(dir, name, file), text);
    return name;
  };
  symlinkSync(write(files), path.join(dir, '..data'));
  for (const file of Object.keys(files)) symlinkSync(path.join('..data', file), path.join(dir, file));
  return {
    dir,
    swap(next) {
      const target = write(next);
      symlinkSync(target, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    },
  };
}

/** What httpsGet saw: the answer, the server certificate, whether the socket was an open one reused, the protocol. */
export interface HttpsAnswer {
  status: number;
  body: string;
  fingerprint: string;
  reused: boolean;
  protocol: string | null;
}

export interface HttpsClient {
  ca?: string;
  cert?: Pem;
  agent?: Agent;
  token?: string;
}

/** A GET over HTTPS to 127.0.0.1 (SNI localhost), with a CA to trust, a client certificate and a token as given. */
export function httpsGet(port: number, urlPath: string, client: HttpsClient): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        servername: 'localhost',
        ca: client.ca,
        ...(client.cert ? { cert: client.cert.cert, key: client.cert.key } : {}),
        agent: client.agent ?? false,
        headers: client.token ? { authorization: `Bearer ${client.token}` } : {},
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        const protocol = socket.getProtocol();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, fingerprint, reused: req.reusedSocket, protocol }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}


/**
 * A test gateway (startTestGateway) serving HTTPS on 127.0.0.1 with `tls` as `serve` does
 * (src/http/tls.ts follows the files), with its TLS log lines (kept for the leak check).
 */
export async function startTlsTestGateway(
  dir: string,
  tls: ServerTlsConfig,
  options: { files: Record<string, string>; backends: unknown[]; policies?: unknown[]; secrets?: string[] },
) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }) });
  const serverTls = new ServerTls({ tls, baseDir: dir, logger, pollIntervalMs: 200 });
  const gw = await startTestGateway({
    dir,
    files: options.files,
    config: { server: { tls }, backends: options.backends, auth: { policies: options.policies ?? [] } },
    https: serverTls.apiServerOptions,
    secrets: options.secrets ?? [],
  });
  serverTls.serve(gw.app.server as unknown as TlsServer, gw.metrics.registry);
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (gw.app.server.address() as AddressInfo).port;
  let closed = false;
  return {
    gw,
    port,
    serverTls,
    lines,
    logged: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    close: async () => {
      if (closed) return;
      closed = true;
      serverTls.close();
      await gw.close();
      keepLog(`tls-${port}`, lines.join(''));
    },
  };
}
