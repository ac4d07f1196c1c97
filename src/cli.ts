// The `secrets-gateway` command: serve | config check | token create | token inspect | audit verify |
// connections set|delete | variables set|delete.
import { Command } from 'commander';
import { ConfigError } from './config/errors.ts';
import { checkConfig, connectBackends } from './config/check.ts';
import { serve } from './serve.ts';
import { createTokenCommand, inspectTokenCommand } from './auth/token-commands.ts';
import { verifyAuditFiles } from './audit/verify-command.ts';
import { registerWriteCommands } from './cli/write-commands.ts';

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
    .description('check a configuration file as serve would, without serving: exit 2 and the key path where serve would refuse it')
    .argument('<file>', 'YAML configuration file')
    .option('--connect', 'also connect to each backend (log in, first reads) and report each one: exit 1 unless every one is ready')
    .action(async (file: string, opts: { connect?: boolean }) => {
      try {
        const { config: loaded, warnings, chain } = await checkConfig(file);
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(`${file}: OK (${loaded.backends.map((b) => `${b.name}:${b.type}`).join(' -> ')})\n`);
        if (!opts.connect) {
          await chain.close();
          return;
        }
        const reports = await connectBackends(chain).finally(() => chain.close());
        for (const r of reports) {
          process.stdout.write(`  ${r.name} (${r.type}): ${r.state}${r.error ? ` [${r.error.code}] ${r.error.message}` : ''}\n`);
          // serve would start anyway (a backend it cannot reach is degraded); what --connect asks is whether each one answers.
          if (r.state !== 'ready') process.exitCode = 1;
        }
      } catch (err) {
        fail(err);
      }
    });

  const token = program.command('token').description('mint and inspect access tokens');
  token
    .command('create')
    .description('print a signed token (with an HS256/384/512 key of the config)')
    .requiredOption('-c, --config <file>', 'YAML configuration file with an auth section')
    .requiredOption('--sub <subject>', 'the token subject (who it is for)')
    .option('--scope <scopes>', 'space-separated grants, e.g. "connections:read:team_a_* variables:read:*"')
    .option('--ttl <duration>', 'lifetime: 30s, 10m, 12h, 7d', '10m')
    .option('--kid <kid>', 'the key to sign with (needed when the config has several HS keys)')
    .option('--claim <k=v>', 'an extra string claim (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action((opts: { config: string; sub: string; scope?: string; ttl: string; kid?: string; claim: string[] }) => {
      try {
        process.stdout.write(`${createTokenCommand(opts)}\n`);
      } catch (err) {
        fail(err);
      }
    });
  token
    .command('inspect')
    .description("verify a token against a config, print its claims and what the config's policies grant it")
    .requiredOption('-c, --config <file>', 'YAML configuration file with an auth section')
    .argument('<token>', 'the JWT')
    .action(async (jwt: string, opts: { config: string }) => {
      const result = await inspectTokenCommand({ config: opts.config, token: jwt }).catch(fail);
      process.stdout.write(result.text);
      process.exitCode = result.ok ? 0 : 1;
    });

  const audit = program.command('audit').description('work with audit logs');
  audit
    .command('verify')
    .description(
      'check the hash chain of an audit log, or of a rotated set (files or a directory, taken oldest first: audit.log.2, audit.log.1, audit.log). ' +
        'Exit status: 0 intact, 1 an edited line, 3 deleted lines, 4 a missing file in the set, 5 files out of order, 6 a torn last line, 2 unreadable',
    )
    .argument('<paths...>', 'audit log files (JSON lines) or directories of them')
    .action((paths: string[]) => {
      let result;
      try {
        result = verifyAuditFiles(paths);
      } catch (err) {
        process.stderr.write(`secrets-gateway: ${(err as Error)?.message ?? String(err)}\n`);
        process.exit(2);
      }
      (result.exit === 0 ? process.stdout : process.stderr).write(result.text);
      process.exitCode = result.exit;
    });

  registerWriteCommands(program, fail);

  program.parseAsync(argv).catch(fail);
}
