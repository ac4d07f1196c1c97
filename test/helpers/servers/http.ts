// A small in-process loopback HTTP server for tests (e.g. connection
// validation targets): node:http on 127.0.0.1, a free port, a request log, a
// replaceable handler, and stop()/restart() on the same port.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { LOOPBACK, freePort, waitPortFree } from './common.ts';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

export interface HttpServer {
  readonly host: string;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Requests received so far (body read as UTF-8). */
  readonly requests: readonly RecordedRequest[];
  /** Replace the handler (default: 200 {"ok":true}). */
  setHandler(h: HttpHandler): void;
  clearRequests(): void;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export const defaultHandler: HttpHandler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};

export async function startHttpServer(opts: { port?: number; handler?: HttpHandler } = {}): Promise<HttpServer> {
  const port = opts.port ?? (await freePort());
  let handler: HttpHandler = opts.handler ?? defaultHandler;
  const requests: RecordedRequest[] = [];
  let server: Server | undefined;

  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
        Promise.resolve()
          .then(() => handler(req, res, body))
          .catch((e: unknown) => {
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(e instanceof Error ? e.message : String(e));
          });
      });
    });
    s.keepAliveTimeout = 1000;
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(port, LOOPBACK, () => res());
    });
    s.unref();
    server = s;
  };
  const close = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((res) => s.close(() => res()));
    await waitPortFree(port);
  };
  await listen();

  return {
    host: LOOPBACK,
    port,
    url: `http://${LOOPBACK}:${port}`,
    requests,
    setHandler: (h) => {
      handler = h;
    },
    clearRequests: () => {
      requests.length = 0;
    },
    stop: close,
    restart: async () => {
      await close();
      await listen();
    },
  };
}
