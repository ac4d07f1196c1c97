// Runs one gateway process: load config, build, listen, and drain on SIGTERM.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { pino, type Logger } from 'pino';
import { buildGateway } from './app.ts';
import { loadConfig } from './config/load.ts';
import type { GatewayConfig } from './config/schema.ts';
import { ConfigError } from './config/errors.ts';
import { createLogger } from './logging.ts';
import { startMetricsServer } from './routes/metrics.ts';
import { Drain } from './http/drain.ts';
import { devAuthConfig, devToken, DEV_TOKEN_TTL_MS } from './auth/dev.ts';
import { checkServerTls, ServerTls } from './http/tls.ts';
import type { GatewayMetrics } from './metrics.ts';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

/** Refuses what `serve` would refuse before it starts (the bind address without auth, the TLS files and policies): `config check` applies it too, so a config it passes does start. */
export function checkServeConfig(config: GatewayConfig): void {
  if (!config.auth && !isLoopbackHost(config.server.host)) {
    // A dev key printed on startup is for this machine only: other hosts need a configured `auth` section.
    throw new ConfigError('server.host', `"${config.server.host}" is not a loopback address; without an auth section the gateway binds loopback only`);
  }
  // server.tls: the files are read and checked as `serve` reads them (`config check` runs this too).
  checkServerTls(config);
}

/** server.tls: reads the certificate files (a ConfigError stops the start), or undefined without TLS. */
function startTls(config: GatewayConfig, logger: Logger): ServerTls | undefined {
  return config.server.tls ? new ServerTls({ tls: config.server.tls, baseDir: config.baseDir, logger: logger.child({ component: 'tls' }) }) : undefined;
}

/** The API port and the metrics port follow the certificate files from now on. */
function followTls(tls: ServerTls | undefined, app: FastifyInstance, metricsServer: Server | undefined, metrics: GatewayMetrics): void {
  if (!tls) return;
  tls.serve(app.server as unknown as TlsServer, metrics.registry);
  if (metricsServer) tls.serve(metricsServer as unknown as TlsServer, metrics.registry, false);
}

export async function serve(configPath: string | undefined): Promise<FastifyInstance> {
  const { config, warnings } = loadConfig({ configPath });
  checkServeConfig(config);
  const devMode = !config.auth;
  // With audit lines on stdout, the application log moves to stderr so the two streams stay apart.
  const logger = createLogger({ level: config.log.level, ...(config.audit.sink === 'stdout' ? { destination: pino.destination(2) } : {}) });
  for (const w of warnings) logger.warn(w);
  logger.info({ source: config.source, backends: config.backends.map((b) => `${b.name} (${b.type})`) }, 'configuration loaded');
  if (devMode) {
    config.auth = devAuthConfig();
    process.stderr.write(
      '\nsecrets-gateway: no `auth` configured: DEV MODE, loopback only, signing key in ./.secrets-gateway/dev-signing-key\n' +
        `Dev token (sub "dev": read, backends:read, connections:test and cache:invalidate scopes; valid ${DEV_TOKEN_TTL_MS / 3_600_000}h):\n\n  export SG_TOKEN=${devToken(config.auth)}\n\n` +
        '  curl -H "Authorization: Bearer $SG_TOKEN" http://127.0.0.1:<port>/v1/connections/<conn_id>\n\n',
    );
  }

  const tls = startTls(config, logger);
  let drain: Drain | undefined;
  const { app, metrics } = await buildGateway(config, { logger, draining: () => drain?.draining ?? false, ...(tls ? { https: tls.apiServerOptions } : {}) });
  drain = new Drain(app);
  await app.listen({ host: config.server.host, port: config.server.port });
  // logrotate (`create` mode) renamed the audit file and sends SIGHUP: reopen it.
  process.on('SIGHUP', () => app.reopenAuditLog());
  const metricsServer =
    config.metrics.enabled && config.metrics.port != null
      ? await startMetricsServer(metrics, config.server.host, config.metrics.port, config.metrics.path, tls?.metricsServerOptions)
      : undefined;
  followTls(tls, app, metricsServer, metrics);
  if (metricsServer) logger.info({ address: metricsServer.address(), path: config.metrics.path }, 'metrics listening');

  stopOnSignals(drain, config, logger, metricsServer, () => tls?.close());
  return app;
}

/** SIGTERM: drain, then exit (src/http/drain.ts); SIGINT: the same without the drain period; a second signal cuts the drain period short. */
function stopOnSignals(drain: Drain, config: GatewayConfig, logger: Logger, metricsServer: Server | undefined, onStopped: () => void): void {
  const stop = (signal: string) => {
    logger.info({ signal }, drain.draining ? 'second signal: ending the drain period now' : 'stopping');
    if (!drain.draining) {
      // Whatever happens below, the process is gone by then.
      const limit = (config.server.drain_seconds + config.server.shutdown_timeout_seconds) * 1000 + 2000;
      setTimeout(() => process.exit(1), limit).unref();
    }
    // Ctrl-C is a person at a terminal, not an orchestrator: no load balancer to wait for.
    const drainSeconds = signal === 'SIGINT' ? 0 : config.server.drain_seconds;
    drain.shutdown({ drainSeconds, shutdownTimeoutSeconds: config.server.shutdown_timeout_seconds, logger }, metricsServer ? [metricsServer] : []).then(
      (code) => {
        onStopped();
        logger.flush?.();
        process.exit(code);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
