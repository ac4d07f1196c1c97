// `secrets-gateway token create | inspect`: mint a token with an HS key from a
// config file, and show what a token's claims grant under that config.
import fastifyJwt from '@fastify/jwt';
import Fastify from 'fastify';
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../config/errors.ts';
import { createLogger } from '../logging.ts';
import type { AuthConfig } from './config.ts';
import { accessFor } from './policy.ts';
import { authenticate } from './authenticate.ts';
import { grantsFromClaims, type Grant } from './scopes.ts';
import { mintToken, parseTtl } from './token.ts';
import { TokenVerifier } from './verify.ts';

function authOf(configFile: string): { auth: AuthConfig; baseDir: string } {
  const { config } = loadConfig({ configPath: configFile });
  if (!config.auth) throw new ConfigError('auth', `${configFile} has no auth section`);
  return { auth: config.auth, baseDir: config.baseDir };
}

/** `--claim k=v` (repeatable) → {k: v}. */
export function parseClaims(pairs: string[]): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--claim "${pair}" is not k=v`);
    claims[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return claims;
}

export function createTokenCommand(opts: { config: string; sub: string; scope?: string; ttl: string; kid?: string; claim: string[] }): string {
  const { auth, baseDir } = authOf(opts.config);
  return mintToken(auth, baseDir, process.env, { sub: opts.sub, scope: opts.scope, ttlMs: parseTtl(opts.ttl), kid: opts.kid, claims: parseClaims(opts.claim) });
}

const show = (g: Grant) => (g.glob === null ? g.action : `${g.action}:${g.glob}`);

/** Verifies `token` against the config as the gateway does (the authenticate step and @fastify/jwt,
 * on a Fastify instance of one route) and describes it; `ok` is false when it would be refused. */
export async function inspectTokenCommand(opts: { config: string; token: string }): Promise<{ ok: boolean; text: string }> {
  const { auth, baseDir } = authOf(opts.config);
  const verifier = new TokenVerifier(auth, baseDir, process.env, createLogger({ level: 'silent' }));
  const app = Fastify();
  await app.register(fastifyJwt, verifier.pluginOptions());
  let crashed: Error | undefined;
  app.get('/', (request, reply) => {
    const answer = (text: string) => void reply.send(text);
    authenticate(request, verifier, () => answer('OK'), (err) => answer(`REFUSED (${err.reason}): ${err.message}`), (err) => answer(String((crashed = err))));
  });
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    ({ header, payload: claims } = app.jwt.decode<{ header: Record<string, unknown>; payload: Record<string, unknown> }>(opts.token)!);
  } catch {
    return { ok: false, text: 'not a JWT\n' };
  }
  const verdict = (await app.inject({ url: '/', headers: { authorization: `Bearer ${opts.token}` } })).body;
  await app.close();
  if (crashed) throw crashed;
  const ok = verdict === 'OK';
  const lines = [`verification: ${verdict}`, `header: ${JSON.stringify(header)}`, `claims: ${JSON.stringify(claims, null, 2)}`];
  if (typeof claims.exp === 'number') lines.push(`expires: ${new Date(claims.exp * 1000).toISOString()}`);
  const access = accessFor(claims, grantsFromClaims(claims), auth.policies);
  lines.push(`grants${ok ? '' : ' (if it verified)'}: ${access.grants.map(show).join(' ') || '(none: every request is denied)'}`);
  lines.push(`denies: ${access.denies.map(show).join(' ') || '(none)'}`);
  return { ok, text: `${lines.join('\n')}\n` };
}
