// `secrets-gateway connections set|delete` and `variables set|delete`: the write API from a shell,
// against a running gateway. The flags mirror `airflow connections add` (--conn-uri, --conn-json,
// --conn-type, --conn-host, ...) plus --ttl (an expiring override, on an overlay target). The token
// comes from --token-file or $SECRETS_GATEWAY_TOKEN (never a flag: argv is visible to every user).
// Over https://, --ca-bundle verifies the gateway with a private CA and --client-cert/--client-key
// present a client certificate (mutual TLS), as the Python client's ca_bundle/client_cert/client_key do.
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { http } from '../support/node-http.ts';
import { request as httpsRequest } from 'node:https';
import type { Command } from 'commander';

interface Target {
  url?: string;
  tokenFile?: string;
  caBundle?: string;
  clientCert?: string;
  clientKey?: string;
}
interface WriteFlags extends Target {
  ttl?: string;
  ifMatch?: string;
  createOnly?: boolean;
  allowShadowed?: boolean;
}
interface ConnectionFlags extends WriteFlags {
  connUri?: string;
  connJson?: string;
  connType?: string;
  connHost?: string;
  connLogin?: string;
  connPassword?: string;
  connSchema?: string;
  connPort?: string;
  connExtra?: string;
  connDescription?: string;
}

class UsageError extends Error {}

function gatewayUrl(flags: Target): string {
  const url = flags.url ?? process.env.SECRETS_GATEWAY_URL;
  if (!url) throw new UsageError('give --url or $SECRETS_GATEWAY_URL (e.g. http://127.0.0.1:8080)');
  return url.replace(/\/+$/, '');
}

function token(flags: Target): string {
  const file = flags.tokenFile ?? process.env.SECRETS_GATEWAY_TOKEN_FILE;
  const value = file ? readFileSync(file, 'utf8').trim() : process.env.SECRETS_GATEWAY_TOKEN;
  if (!value) throw new UsageError('give --token-file, $SECRETS_GATEWAY_TOKEN_FILE or $SECRETS_GATEWAY_TOKEN (a token with connections:write / variables:write)');
  return value;
}

/** The TLS options of the request, from the flags or $SECRETS_GATEWAY_CA_BUNDLE / _CLIENT_CERT / _CLIENT_KEY. */
export function tlsOptions(flags: Target, url: string): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const files = {
    ca: flags.caBundle ?? process.env.SECRETS_GATEWAY_CA_BUNDLE,
    cert: flags.clientCert ?? process.env.SECRETS_GATEWAY_CLIENT_CERT,
    key: flags.clientKey ?? process.env.SECRETS_GATEWAY_CLIENT_KEY,
  };
  if (files.key && !files.cert) throw new UsageError('--client-key needs --client-cert');
  if ((files.ca || files.cert) && !url.startsWith('https://')) throw new UsageError('--ca-bundle and --client-cert need an https:// URL');
  const read = (flag: string, file: string | undefined): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`cannot read the ${flag} file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const options = { ca: read('--ca-bundle', files.ca), cert: read('--client-cert', files.cert), key: read('--client-key', files.key ?? files.cert) };
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/** One request, with node:http(s) (whose TLS options fetch does not take); the status and the body's text. */
function exchange(url: string, method: string, headers: Record<string, string>, body: string | undefined, tls: ReturnType<typeof tlsOptions>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https://') ? httpsRequest : http.request;
    const req = send(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: 30_000, ...tls }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** The body of `connections set`, from Airflow's `connections add` flags (one of --conn-uri, --conn-json, or the fields). */
export function connectionBody(flags: ConnectionFlags): Record<string, unknown> {
  const fieldFlags = [flags.connType, flags.connHost, flags.connLogin, flags.connPassword, flags.connSchema, flags.connPort, flags.connExtra].some((v) => v !== undefined);
  const given = [flags.connUri !== undefined, flags.connJson !== undefined, fieldFlags].filter(Boolean).length;
  if (given !== 1) throw new UsageError('give exactly one of --conn-uri, --conn-json, or --conn-type with the other --conn-* fields');
  const description = flags.connDescription === undefined ? {} : { description: flags.connDescription };
  if (flags.connUri !== undefined) return { uri: flags.connUri, ...description };
  if (flags.connJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.connJson);
    } catch {
      throw new UsageError('--conn-json is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--conn-json must be a JSON object');
    return { ...(parsed as Record<string, unknown>), ...description };
  }
  if (!flags.connType) throw new UsageError('--conn-type is required with the --conn-* fields (as for airflow connections add)');
  let port: number | undefined;
  if (flags.connPort !== undefined) {
    if (!/^\d{1,5}$/.test(flags.connPort)) throw new UsageError('--conn-port must be a number');
    port = Number(flags.connPort);
  }
  const fields: Record<string, unknown> = {
    conn_type: flags.connType,
    host: flags.connHost,
    login: flags.connLogin,
    password: flags.connPassword,
    schema: flags.connSchema,
    port,
    extra: flags.connExtra,
    ...description,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

async function send(kind: 'connections' | 'variables', id: string, method: 'PUT' | 'DELETE', flags: WriteFlags, body?: unknown): Promise<number> {
  const query = new URLSearchParams();
  if (flags.ttl !== undefined) {
    if (!/^[1-9]\d*$/.test(flags.ttl)) throw new UsageError('--ttl is a whole number of seconds');
    query.set('ttl_seconds', flags.ttl);
  }
  if (flags.allowShadowed) query.set('allow_shadowed', 'true');
  const url = `${gatewayUrl(flags)}/v1/${kind}/${id.split('/').map(encodeURIComponent).join('/')}${query.size ? `?${query}` : ''}`;
  const headers: Record<string, string> = { authorization: `Bearer ${token(flags)}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (flags.ifMatch) headers['if-match'] = flags.ifMatch;
  if (flags.createOnly) headers['if-none-match'] = '*';
  const tls = tlsOptions(flags, url);
  let res: { status: number; text: string };
  try {
    res = await exchange(url, method, headers, body === undefined ? undefined : JSON.stringify(body), tls);
  } catch (err) {
    // The error's code only (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...): never the request.
    throw new Error(`cannot reach the gateway at ${gatewayUrl(flags)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
  }
  const text = res.text;
  if (res.status >= 200 && res.status < 300) {
    // The answer names the target, the new version and whether every replica was told; never a value.
    process.stdout.write(`${text}\n`);
    const fanout = (() => {
      try {
        return (JSON.parse(text) as { fanout?: string }).fanout;
      } catch {
        return undefined;
      }
    })();
    if (fanout === 'unavailable') process.stderr.write('warning: the other replicas were not told (Redis is down); they serve the old value until their cache TTL\n');
    return 0;
  }
  let problem: { code?: string; detail?: string } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    // not a problem document
  }
  process.stderr.write(`secrets-gateway: ${method} ${kind}/${id}: HTTP ${res.status} ${problem.code ?? ''}${problem.detail ? `: ${problem.detail}` : ''}\n`);
  return 1;
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'the gateway (default: $SECRETS_GATEWAY_URL)')
    .option('--token-file <file>', 'a file holding the bearer token (default: $SECRETS_GATEWAY_TOKEN_FILE, then $SECRETS_GATEWAY_TOKEN)')
    .option('--ca-bundle <file>', 'PEM CA bundle to verify an https:// gateway with (default: $SECRETS_GATEWAY_CA_BUNDLE, else the system CAs)')
    .option('--client-cert <file>', 'PEM client certificate for mutual TLS (default: $SECRETS_GATEWAY_CLIENT_CERT)')
    .option('--client-key <file>', 'its PEM private key, if not in --client-cert (default: $SECRETS_GATEWAY_CLIENT_KEY)');
}

function writeOptions(cmd: Command): Command {
  return targetOptions(cmd)
    .option('--ttl <seconds>', 'the entry expires after this many seconds (an overlay writes target)')
    .option('--if-match <version>', 'write only over this version (the X-Secret-Version a read or write showed)')
    .option('--create-only', 'fail if it exists already (If-None-Match: *)')
    .option('--allow-shadowed', 'write even when an earlier backend in the chain holds the id (and would still be served)');
}

export function registerWriteCommands(program: Command, fail: (err: unknown) => never): void {
  const run = (p: () => Promise<number>) =>
    p().then(
      (code) => {
        process.exitCode = code;
      },
      (err) => {
        if (err instanceof UsageError) {
          process.stderr.write(`secrets-gateway: ${err.message}\n`);
          process.exit(2);
        }
        fail(err);
      },
    );

  const connections = program.command('connections').description('change connections through a running gateway (the write API)');
  writeOptions(connections.command('set').description('create or replace a connection (flags as `airflow connections add`)').argument('<conn_id>'))
    .option('--conn-uri <uri>', 'the connection as an Airflow URI')
    .option('--conn-json <json>', 'the connection as Airflow connection JSON')
    .option('--conn-type <type>')
    .option('--conn-host <host>')
    .option('--conn-login <login>')
    .option('--conn-password <password>')
    .option('--conn-schema <schema>')
    .option('--conn-port <port>')
    .option('--conn-extra <json>', 'extra, a JSON object')
    .option('--conn-description <text>')
    .action((connId: string, flags: ConnectionFlags) => run(async () => send('connections', connId, 'PUT', flags, connectionBody(flags))));
  targetOptions(connections.command('delete').description('delete a connection from the writes target').argument('<conn_id>'))
    .option('--if-match <version>', 'delete only this version')
    .action((connId: string, flags: WriteFlags) => run(() => send('connections', connId, 'DELETE', flags)));

  const variables = program.command('variables').description('change variables through a running gateway (the write API)');
  writeOptions(variables.command('set').description('create or replace a variable (as `airflow variables set`)').argument('<key>').argument('<value>')).action(
    (key: string, value: string, flags: WriteFlags) => run(() => send('variables', key, 'PUT', flags, { value })),
  );
  targetOptions(variables.command('delete').description('delete a variable from the writes target').argument('<key>'))
    .option('--if-match <version>', 'delete only this version')
    .action((key: string, flags: WriteFlags) => run(() => send('variables', key, 'DELETE', flags)));
}
