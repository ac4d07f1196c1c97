// The `secrets-gateway` command: serve | config check.
import { Command } from 'commander';
import { loadConfig } from './config/load.ts';
import { ConfigError } from './config/errors.ts';
import { serve } from './serve.ts';

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`secrets-gateway: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`secrets-gateway: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}

export function cli(argv: string[]): void {
  const program = new Command('secrets-gateway')
    .description('Serves Airflow connections, variables and config over HTTP from an ordered chain of secrets backends.')
    .showHelpAfterError();

  program
    .command('serve')
    .description('start the HTTP service')
    .option('-c, --config <file>', 'YAML configuration file (default: $SECRETS_GATEWAY_CONFIG, then the embedded default)')
    .action(async (opts: { config?: string }) => {
      await serve(opts.config).catch(fail);
    });

  const config = program.command('config').description('work with configuration files');
  config
    .command('check')
    .description('validate a configuration file without serving')
    .argument('<file>', 'YAML configuration file')
    .action((file: string) => {
      try {
        const { config: loaded, warnings } = loadConfig({ configPath: file });
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(`${file}: OK (${loaded.backends.map((b) => `${b.name}:${b.type}`).join(' -> ')})\n`);
      } catch (err) {
        fail(err);
      }
    });

  program.parseAsync(argv).catch(fail);
}
