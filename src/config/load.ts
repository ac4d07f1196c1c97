// Loads the configuration: one YAML file (or the embedded default), environment
// overrides for the common keys, defaults, and validation that names the key
// path of every problem. Nothing here starts anything.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import type { BackendEntry, GatewayConfig } from './schema.ts';
import { ConfigError } from './errors.ts';
import { PACKAGE_DIR } from '../package-dir.ts';
import { airflowChainFromEnv } from './airflow-compat.ts';
import { validateBackendOptions, validateConfigFile } from './validators.ts';
import { BACKENDS, backendDescriptor, isKnownBackendType, knownBackendTypes } from '../backends/registry.ts';
import { compileLookupPattern, LookupPatternError } from '../backends/lookup-pattern.ts';
import type { AuditConfig } from '../audit/config.ts';
import { authConfigProblems, type AuthConfig } from '../auth/config.ts';

export { ConfigError } from './errors.ts';

/** The configuration `npm start` uses when none is given: the repo's example files, then the environment. */
export const EMBEDDED_DEFAULT_CONFIG = path.join(PACKAGE_DIR, 'config', 'default.yaml');

/** Environment variables that override a config key, applied before validation. */
const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: [string, string]; parse: (v: string) => unknown }> = [
  { env: 'SECRETS_GATEWAY_HOST', path: ['server', 'host'], parse: (v) => v },
  { env: 'SECRETS_GATEWAY_PORT', path: ['server', 'port'], parse: (v) => (/^\d+$/.test(v) ? Number(v) : v) },
  { env: 'SECRETS_GATEWAY_LOG_LEVEL', path: ['log', 'level'], parse: (v) => v },
];

export interface LoadOptions {
  /** A config file; when absent, SECRETS_GATEWAY_CONFIG, then the embedded default. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: GatewayConfig;
  warnings: string[];
}

function keyPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  if (extra) out += out ? `.${extra}` : extra;
  return out || '(top level)';
}

function describe(error: ErrorObject, prefix: string): ConfigError {
  const where = (p: string) => (prefix ? (p === '(top level)' ? prefix : `${prefix}${p.startsWith('[') ? '' : '.'}${p}`) : p);
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    return new ConfigError(where(keyPath(error.instancePath, key)), 'unknown key');
  }
  if (error.keyword === 'required') {
    const key = String((error.params as { missingProperty: string }).missingProperty);
    return new ConfigError(where(keyPath(error.instancePath, key)), 'is required');
  }
  return new ConfigError(where(keyPath(error.instancePath)), error.message ?? 'is not valid');
}

/** The first error, named by its key path; a value outside an enumeration names the allowed values. */
function describeFirst(errors: ErrorObject[], prefix: string): ConfigError {
  const first = errors[0]!;
  // An enumeration is an `enum`, or (TypeBox's union of literals) an anyOf of `const`s: Ajv reports one
  // error per branch at the same path, so their allowed values together are the list.
  const branches = errors.filter((e) => e.instancePath === first.instancePath && e.keyword !== 'anyOf');
  const allowed =
    first.keyword === 'enum'
      ? ((first.params as { allowedValues: unknown[] }).allowedValues ?? [])
      : branches.every((e) => e.keyword === 'const')
        ? branches.map((e) => (e.params as { allowedValue: unknown }).allowedValue)
        : undefined;
  if (allowed && allowed.length > 0) {
    const at = describe(first, prefix).path;
    return new ConfigError(at, `must be one of: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  return describe(first, prefix);
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    // The parser's message can quote the file, which may hold a token: report the position only.
    const line = first.linePos?.[0];
    throw new ConfigError('(file)', `${file} is not valid YAML${line ? ` (line ${line.line}, column ${line.col})` : ''}: ${first.code}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // The one error toJS raises on a parsed document: aliases that expand exponentially (a "billion laughs").
    if (err instanceof ReferenceError) throw new ConfigError('(file)', `${file} expands too many YAML aliases (more than 100): refused as a resource exhaustion attack`);
    throw err;
  }
  return value ?? {};
}

function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (v === undefined || v === '') continue;
    const [section, key] = o.path;
    const current = raw[section];
    const obj = current && typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
    obj[key] = o.parse(v);
    raw[section] = obj;
  }
}

/** Validates each backend entry against its own type's schema and fills its defaults. */
function validateBackends(backends: BackendEntry[]): BackendEntry[] {
  const names = new Set<string>();
  return backends.map((entry, i) => {
    const at = `backends[${i}]`;
    if (!isKnownBackendType(entry.type)) throw new ConfigError(`${at}.type`, `unknown backend type "${entry.type}" (known: ${knownBackendTypes().join(', ')})`);
    const validate = validateBackendOptions(entry.type);
    const copy = structuredClone(entry);
    if (!validate(copy)) throw describeFirst(validate.errors!, at);
    for (const kind of ['connections', 'variables', 'config'] as const) {
      const pattern = copy[`${kind}_lookup_pattern`];
      try {
        compileLookupPattern(pattern);
      } catch (err) {
        const reason = err instanceof LookupPatternError ? `: ${err.reason}` : '';
        throw new ConfigError(`${at}.${kind}_lookup_pattern`, `is not a valid regular expression${reason}`);
      }
    }
    const name = copy.name ?? copy.type;
    if (names.has(name)) throw new ConfigError(`${at}.name`, `"${name}" is used by another backend; give each backend of the same type a unique name`);
    names.add(name);
    copy.name = name;
    return copy;
  });
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? (env.SECRETS_GATEWAY_CONFIG || undefined);
  const file = path.resolve(explicit ?? EMBEDDED_DEFAULT_CONFIG);
  const raw = readYaml(file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('(top level)', 'must be a mapping');
  const doc = raw as Record<string, unknown>;
  applyEnvOverrides(doc, env);
  const validateTopLevel = validateConfigFile();
  if (!validateTopLevel(doc)) throw describeFirst(validateTopLevel.errors!, '');
  const server = doc.server as GatewayConfig['server'];
  // Node refuses to create a server otherwise; say it with the key path.
  if (server.headers_timeout_seconds > server.request_timeout_seconds) throw new ConfigError('server.headers_timeout_seconds', 'must be <= server.request_timeout_seconds');
  const authProblem = doc.auth ? authConfigProblems(doc.auth as AuthConfig)[0] : undefined;
  if (authProblem) throw new ConfigError(authProblem[0], authProblem[1]);

  const warnings: string[] = [];
  let backends = (doc.backends as BackendEntry[] | undefined) ?? [];
  let source = explicit ? file : `embedded default (${file})`;
  let baseDir = path.dirname(file);
  if (backends.length === 0) {
    // No chain configured: build the one Airflow would, from its own environment variables.
    const airflow = airflowChainFromEnv(env);
    if (airflow) {
      backends = airflow.backends;
      warnings.push(...airflow.warnings);
      source += ' + AIRFLOW__SECRETS__BACKEND';
      baseDir = process.cwd(); // Airflow resolves kwargs paths against the working directory
    } else {
      backends = [{ type: 'environment' }];
    }
  }
  const config: GatewayConfig = {
    server: doc.server as GatewayConfig['server'],
    log: doc.log as GatewayConfig['log'],
    cache: doc.cache as GatewayConfig['cache'],
    metrics: doc.metrics as GatewayConfig['metrics'],
    backends: validateBackends(backends),
    critical_connections: doc.critical_connections as string[],
    connection_checks: doc.connection_checks as GatewayConfig['connection_checks'],
    auth: doc.auth as AuthConfig | undefined,
    audit: doc.audit as AuditConfig,
    writes: doc.writes as GatewayConfig['writes'],
    baseDir,
    source,
  };
  checkWrites(config);
  return { config, warnings };
}

/** Backend types that can store what their reader reads (the write API's targets). */
export const WRITABLE_TYPES: ReadonlySet<string> = new Set(BACKENDS.filter((d) => d.capabilities.writable).map((d) => d.type));

/** writes.target names one backend, which says writable: true; writable is refused where a type cannot store. */
function checkWrites(config: GatewayConfig): void {
  config.backends.forEach((b, i) => {
    if (b.writable && !WRITABLE_TYPES.has(b.type)) throw new ConfigError(`backends[${i}].writable`, `a ${b.type} backend cannot be written; writable types: ${[...WRITABLE_TYPES].join(', ')}`);
    const cannot = b.writable ? backendDescriptor(b.type)?.cannotWrite?.(b) : undefined;
    if (cannot) throw new ConfigError(`backends[${i}].writable`, cannot);
  });
  const target = config.writes.target;
  if (target == null) return;
  const backend = config.backends.find((b) => b.name === target);
  if (!backend) throw new ConfigError('writes.target', `names no backend in the chain ("${target}")`);
  if (!backend.writable) throw new ConfigError('writes.target', `backend "${target}" does not say writable: true`);
}
