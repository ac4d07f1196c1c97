// The `auth:` section of the configuration. Secrets are never inline: an HMAC
// secret comes from a file or an environment variable, so a committed config
// file never holds one. The section's schema is in config-schema.ts, which only the validator
// generator and the tests load; this module holds what a start needs: the checks the schema cannot
// express.
import type { AuthConfig } from './config-schema.ts';
import { policyProblems } from './policy.ts';

export type { AuthConfig, JwksConfig, JwtAlgorithm, KeyConfig } from './config-schema.ts';
export const isHmac = (alg: string): boolean => alg.startsWith('HS');

const LOOPBACK_URL = /^http:\/\/(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)(:\d+)?\//i;

/** Checks that the schema cannot express; returns `[key path, message]` per problem. */
export function authConfigProblems(auth: AuthConfig): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const kids = new Set<string>();
  auth.keys.forEach((k, i) => {
    const at = `auth.keys[${i}]`;
    if (kids.has(k.kid)) problems.push([`${at}.kid`, `"${k.kid}" is used by another key`]);
    kids.add(k.kid);
    const secret = [k.secret_file, k.secret_env].filter(Boolean).length;
    const pub = [k.public_key_file, k.public_key_env].filter(Boolean).length;
    if (isHmac(k.alg)) {
      if (secret !== 1 || pub) problems.push([at, `${k.alg} needs exactly one of secret_file or secret_env`]);
    } else if (pub !== 1 || secret) {
      problems.push([at, `${k.alg} needs exactly one of public_key_file or public_key_env`]);
    }
  });
  auth.jwks.forEach((j, i) => {
    if (j.url.startsWith('http:') && !LOOPBACK_URL.test(j.url)) problems.push([`auth.jwks[${i}].url`, 'must be https (plain http only on a loopback address)']);
  });
  if (auth.keys.length === 0 && auth.jwks.length === 0) problems.push(['auth.keys', 'configure at least one key or jwks endpoint']);
  problems.push(...policyProblems(auth.policies));
  return problems;
}
