// Checks that a connection's target answers, stage by stage: DNS, a TCP connect,
// and for common types a protocol handshake that sends no credentials
// (postgres SSLRequest, the MySQL server greeting, redis PING, an HTTP request).
// The answer has each stage's outcome and timing; it never holds the login or the
// password, and a stage's detail is ours (an error code), never a server's text.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { http } from '../support/node-http.ts';
import https from 'node:https';
import type { Connection } from '../airflow/connection.ts';

export type StageName = 'dns' | 'tcp' | 'handshake';

export interface StageResult {
  stage: StageName;
  status: 'ok' | 'failed' | 'skipped';
  ms: number;
  /** A short, fixed description or an error code (ENOTFOUND, ECONNREFUSED, timeout, ...). */
  detail?: string;
}

export interface ConnectionCheck {
  conn_id: string;
  conn_type: string | null;
  host: string | null;
  port: number | null;
  ok: boolean;
  stages: StageResult[];
}

const DEFAULT_PORTS: Record<string, number> = { postgres: 5432, mysql: 3306, redis: 6379, http: 80, https: 443 };

type Handshake = (socket: net.Socket, conn: Connection, host: string, port: number, timeoutMs: number) => Promise<string>;

export async function checkConnection(conn: Connection, timeoutMs: number): Promise<ConnectionCheck> {
  const type = conn.conn_type;
  const tls = type === 'https' || (type === 'http' && conn.schema === 'https');
  const host = conn.host ? hostOf(conn.host) : null;
  const port = conn.port ?? (type ? (DEFAULT_PORTS[tls ? 'https' : type] ?? null) : null);
  const result: ConnectionCheck = { conn_id: conn.conn_id, conn_type: type, host, port, ok: false, stages: [] };
  const skip = (stage: StageName, detail: string) => result.stages.push({ stage, status: 'skipped', ms: 0, detail });

  if (!host) {
    skip('dns', 'the connection has no host');
    skip('tcp', 'the connection has no host');
    skip('handshake', 'the connection has no host');
    return result;
  }
  const dns = await stage('dns', timeoutMs, async () => {
    const { address } = await lookup(host);
    return address;
  });
  result.stages.push(dns.result);
  if (dns.result.status !== 'ok' || port === null) {
    if (port === null) skip('tcp', 'no port, and no default port for this conn_type');
    else skip('tcp', 'DNS failed');
    skip('handshake', 'not reached');
    return finish(result);
  }
  let socket: net.Socket | undefined;
  const tcp = await stage('tcp', timeoutMs, () => connect(dns.value!, port, timeoutMs).then((s) => ((socket = s), `connected to ${dns.value}:${port}`)));
  result.stages.push(tcp.result);
  try {
    const handshake = type ? HANDSHAKES[tls ? 'https' : type] : undefined;
    if (tcp.result.status !== 'ok') skip('handshake', 'TCP connect failed');
    else if (!handshake) skip('handshake', `no handshake for conn_type ${type ?? 'null'}`);
    else result.stages.push((await stage('handshake', timeoutMs, () => handshake(socket!, conn, host, port, timeoutMs))).result);
  } finally {
    socket?.destroy();
  }
  return finish(result);
}

function finish(result: ConnectionCheck): ConnectionCheck {
  result.ok = result.stages.every((s) => s.status !== 'failed') && result.stages.some((s) => s.status === 'ok');
  return result;
}

/** A host field may hold a URL (Airflow's HttpHook accepts "https://api.example"): keep the host name only. */
function hostOf(host: string): string {
  try {
    return host.includes('://') ? new URL(host).hostname : host;
  } catch {
    return host;
  }
}

async function stage<T>(name: StageName, timeoutMs: number, run: () => Promise<T>): Promise<{ result: StageResult; value?: T }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'timeout' })), timeoutMs);
      }),
    ]);
    return { result: { stage: name, status: 'ok', ms: elapsed(t0), ...(typeof value === 'string' ? { detail: value } : {}) }, value };
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    return { result: { stage: name, status: 'failed', ms: elapsed(t0), detail: typeof code === 'string' ? code : 'failed' } };
  } finally {
    clearTimeout(timer);
  }
}

const elapsed = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

function connect(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error('timeout'), { code: 'timeout' }));
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}

/** Reads from the socket until `done` says the bytes so far are enough (or the peer closes). */
function readUntil(socket: net.Socket, done: (data: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (done(data)) cleanup(() => resolve(data));
    };
    const onEnd = () => cleanup(() => (data.length ? resolve(data) : reject(Object.assign(new Error('closed'), { code: 'connection_closed' }))));
    const onError = (err: Error) => cleanup(() => reject(err));
    const cleanup = (then: () => void) => {
      socket.off('data', onData).off('end', onEnd).off('error', onError);
      then();
    };
    socket.on('data', onData).once('end', onEnd).once('error', onError);
  });
}

const protocolError = (detail: string) => Object.assign(new Error(detail), { code: detail });

const HANDSHAKES: Record<string, Handshake> = {
  // SSLRequest (Int32 8, Int32 80877103): every PostgreSQL server answers one byte, S or N.
  async postgres(socket) {
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4);
    socket.write(request);
    const answer = await readUntil(socket, (d) => d.length >= 1);
    const byte = String.fromCharCode(answer[0]!);
    if (byte === 'S' || byte === 'N') return `PostgreSQL answered the SSL request (${byte === 'S' ? 'TLS available' : 'no TLS'})`;
    throw protocolError('not_postgres');
  },
  // The server speaks first: a packet whose payload starts with protocol version 10.
  async mysql(socket) {
    const packet = await readUntil(socket, (d) => d.length >= 4 && d.length >= 4 + d.readUIntLE(0, 3));
    if (packet.length < 5) throw protocolError('not_mysql');
    if (packet[4] === 10) return 'MySQL server greeting (protocol 10)';
    if (packet[4] === 0xff) throw protocolError('mysql_refused');
    throw protocolError('not_mysql');
  },
  // PING: +PONG, or -NOAUTH when the server wants a password (it is a redis either way).
  async redis(socket) {
    socket.write('PING\r\n');
    const line = (await readUntil(socket, (d) => d.includes('\r\n'))).toString('latin1');
    if (line.startsWith('+PONG')) return 'redis answered PING';
    if (line.startsWith('-NOAUTH') || line.startsWith('-WRONGPASS')) return 'redis answered PING (authentication required)';
    throw protocolError('not_redis');
  },
  http: (_socket, conn, host, port, timeoutMs) => httpHandshake(http, conn, host, port, timeoutMs),
  https: (_socket, conn, host, port, timeoutMs) => httpHandshake(https, conn, host, port, timeoutMs),
};

/** A HEAD request on its own connection (TLS verified for https): any HTTP status means the server speaks HTTP. */
function httpHandshake(transport: typeof http | typeof https, _conn: Connection, host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = transport.request({ host, port, method: 'HEAD', path: '/', timeout: timeoutMs, agent: false, headers: { 'user-agent': 'secrets-gateway-connection-test' } }, (res) => {
      res.resume();
      resolve(`HTTP ${res.statusCode}`);
    });
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.once('error', reject);
    req.end();
  });
}
