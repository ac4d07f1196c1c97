// Runs one gateway process: load config, build, listen, and drain on SIGTERM.
import type { FastifyInstance } from 'fastify';
import { buildGateway } from './app.ts';
import { loadConfig } from './config/load.ts';
import { ConfigError } from './config/errors.ts';
import { createLogger } from './logging.ts';
import { startMetricsServer } from './routes/metrics.ts';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

export async function serve(configPath: string | undefined): Promise<FastifyInstance> {
  const { config, warnings } = loadConfig({ configPath });
  if (!isLoopbackHost(config.server.host)) {
    // Access control comes with its own configuration; until it is in place, only this machine may ask.
    throw new ConfigError('server.host', `"${config.server.host}" is not a loopback address; without access control the gateway binds loopback only`);
  }
  const logger = createLogger({ level: config.log.level });
  for (const w of warnings) logger.warn(w);
  logger.info({ source: config.source, backends: config.backends.map((b) => `${b.name} (${b.type})`) }, 'configuration loaded');

  const { app, metrics } = await buildGateway(config, { logger });
  await app.listen({ host: config.server.host, port: config.server.port });
  const metricsServer =
    config.metrics.enabled && config.metrics.port != null
      ? await startMetricsServer(metrics, config.server.host, config.metrics.port, config.metrics.path)
      : undefined;
  if (metricsServer) logger.info({ address: metricsServer.address(), path: config.metrics.path }, 'metrics listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: no new requests; finishing the ones in flight');
    const deadline = setTimeout(() => {
      logger.error({ timeout_seconds: config.server.shutdown_timeout_seconds }, 'in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, config.server.shutdown_timeout_seconds * 1000);
    deadline.unref();
    metricsServer?.close();
    app.close().then(
      () => {
        logger.info('stopped');
        logger.flush?.();
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return app;
}
