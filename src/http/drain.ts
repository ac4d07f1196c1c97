// Graceful shutdown, in the manner of Go's http.Server.Shutdown and Envoy's drain:
//  1. on SIGTERM, /readyz answers 503 at once, and for server.drain_seconds the gateway keeps
//     serving, with `Connection: close` on every response, so clients open their next request
//     elsewhere while load balancers and kube-proxy catch up with the pod's removal;
//  2. then it stops listening and closes each connection only between two requests: an idle
//     keep-alive connection at once, one that has not sent its first request yet after a grace
//     (as Go does), one with a request in flight once that request is answered;
//  3. when no connection is left, the app closes (audit flushed) and the process exits 0; past
//     server.shutdown_timeout_seconds it exits 1.
// Closing a connection under a request, or between a client's write and our close, is what
// makes a client see ECONNRESET; this ordering leaves no such window but the inherent one of
// an HTTP/1.1 keep-alive connection that was idle all through the drain.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** A connection that has not sent its first request is left alone this long after it opened (Go: 5 s). */
const FIRST_REQUEST_GRACE_MS = 5000;
const SWEEP_INTERVAL_MS = 50;

interface ConnectionState {
  openedAt: number;
  /** Requests read and not yet answered. */
  active: number;
  /** Requests answered. */
  answered: number;
}

export interface DrainOptions {
  drainSeconds: number;
  shutdownTimeoutSeconds: number;
  logger: Logger;
}

export class Drain {
  #draining = false;
  #skipWait: (() => void) | undefined;
  readonly #connections = new Map<Socket, ConnectionState>();

  readonly #app: FastifyInstance;

  /** Call before the app listens. /readyz reads `draining` (buildGateway's `draining` dep). */
  constructor(app: FastifyInstance) {
    this.#app = app;
    this.#track(app.server);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Follows each connection of the server, and marks the responses sent during the drain. */
  #track(server: NetServer): void {
    server.on('connection', (socket: Socket) => {
      this.#connections.set(socket, { openedAt: Date.now(), active: 0, answered: 0 });
      socket.once('close', () => this.#connections.delete(socket));
    });
    // Before Fastify's own listener, so the header is there whatever answers the request.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const state = this.#connections.get(req.socket);
      if (state) {
        state.active++;
        res.once('close', () => {
          state.active--;
          state.answered++;
        });
      }
      // Node closes the connection once this response is sent.
      if (this.#draining) res.setHeader('connection', 'close');
    });
  }

  /** The whole sequence; resolves with the exit code. `servers`: other listeners to stop with the app's. A second call ends the drain period early. */
  async shutdown(options: DrainOptions, servers: NetServer[]): Promise<number> {
    if (this.#draining) {
      this.#skipWait?.();
      return new Promise(() => {}); // the first call exits
    }
    this.#draining = true;
    const { logger } = options;
    logger.info({ drain_seconds: options.drainSeconds }, 'draining: /readyz is 503 and every response closes its connection');
    await new Promise<void>((resolve) => {
      this.#skipWait = resolve;
      setTimeout(resolve, options.drainSeconds * 1000).unref();
    });
    logger.info('stopping: no new connections; finishing the requests in flight');
    // net.Server's close, not http.Server's: the latter also closes at once every connection that has
    // not sent a request yet, which may be one whose first request is already on its way.
    for (const server of [this.#app.server, ...servers]) NetServer.prototype.close.call(server);
    const deadline = Date.now() + options.shutdownTimeoutSeconds * 1000;
    while (this.#connections.size > 0) {
      if (Date.now() >= deadline) {
        logger.error({ timeout_seconds: options.shutdownTimeoutSeconds, connections: this.#connections.size }, 'in-flight requests did not finish in time; exiting');
        return 1;
      }
      const now = Date.now();
      for (const [socket, state] of this.#connections) {
        if (state.active === 0 && (state.answered > 0 || now - state.openedAt >= FIRST_REQUEST_GRACE_MS)) socket.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, SWEEP_INTERVAL_MS));
    }
    try {
      await this.#app.close();
    } catch (err) {
      logger.error({ err_name: (err as Error)?.name }, 'closing failed');
      return 1;
    }
    logger.info('stopped');
    return 0;
  }
}
