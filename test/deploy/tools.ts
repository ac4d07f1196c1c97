// The deployment tools the deploy tests run, as scripts/provision-deploy-tools.sh
// installs them. A missing tool fails the test that needs it, never skips it.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const chartDir = path.join(root, 'helm/secrets-gateway');
const tools = path.join(root, '.tools');
/** The Kubernetes versions the chart is validated against (scripts/provision-deploy-tools.sh writes their schemas). */
export const KUBE_VERSIONS = ['1.30.0', '1.37.0'];

const PROVISION = 'run: bash scripts/provision-deploy-tools.sh';

export function toolPath(name: 'helm' | 'kubeconform' | 'hadolint'): string {
  const file = path.join(tools, 'bin', name);
  assert.ok(existsSync(file), `${name} is not installed in .tools/bin; ${PROVISION}`);
  return file;
}

export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  const res = spawnSync(command, args, { cwd: options.cwd ?? root, env: options.env ?? process.env, input: options.input, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (res.error && (res.error as NodeJS.ErrnoException).code === 'ENOENT') assert.fail(`${command} not found; ${PROVISION}`);
  return res;
}

/** Runs a command that must succeed, and returns its stdout. */
export function ok(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const res = run(command, args, options);
  assert.equal(res.status, 0, `${path.basename(command)} ${args.join(' ')} exited ${res.status}:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

export function helmTemplate(args: string[], kubeVersion = KUBE_VERSIONS[0]!, chart = chartDir): SpawnSyncReturns<string> {
  return run(toolPath('helm'), ['template', 'gw', chart, '--namespace', 'secrets-gateway', '--kube-version', kubeVersion, ...args]);
}

export type Manifest = { kind: string; metadata: { name: string }; data?: Record<string, string>; [key: string]: unknown };

/** helm template, which must succeed: its text and its manifests. */
export function render(args: string[], kubeVersion?: string, chart?: string): { text: string; manifests: Manifest[] } {
  const res = helmTemplate(args, kubeVersion, chart);
  assert.equal(res.status, 0, `helm template ${args.join(' ')}:\n${res.stderr}`);
  const manifests = parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  return { text: res.stdout, manifests };
}

export function kubeconformArgs(kubeVersion: string): string[] {
  const schemas = path.join(tools, 'k8s-schemas');
  assert.ok(existsSync(path.join(schemas, `v${kubeVersion}-strict`)), `no Kubernetes ${kubeVersion} schemas in .tools/k8s-schemas; ${PROVISION}`);
  return ['-strict', '-summary', '-kubernetes-version', kubeVersion, '-schema-location', `${schemas}/{{ .NormalizedKubernetesVersion }}{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`];
}

/** kubeconform over manifests on stdin; every resource must have a schema except the kinds named in skip. */
export function kubeconform(manifests: string, kubeVersion: string, skip: string[] = []): SpawnSyncReturns<string> {
  const args = [...kubeconformArgs(kubeVersion), ...(skip.length ? ['-skip', skip.join(',')] : []), '-'];
  return run(toolPath('kubeconform'), args, { input: manifests });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * The files a gateway config names (keys, CAs, tokens, connection files), as [key path, absolute path]:
 * relative paths resolve against the config file's directory, as the gateway resolves them.
 */
export function configFiles(value: unknown, configDir: string, at = 'config'): Array<[string, string]> {
  if (Array.isArray(value)) return value.flatMap((v, i) => configFiles(v, configDir, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]): Array<[string, string]> =>
    typeof v === 'string' && /^\.{0,2}\//.test(v) && /(_file|_path|^file|^verify)$/.test(key)
      ? [[`${at}.${key}`, path.posix.resolve(configDir, v)]]
      : configFiles(v, configDir, `${at}.${key}`),
  );
}

/** The Python with `cryptography` that runs deploy/compose/make-tls.py (the apache/airflow image's, here Airflow's venv). */
export const AIRFLOW_PYTHON = process.env.AIRFLOW_PYTHON ?? path.join(root, '.venv/airflow/bin/python');

/** Runs deploy/compose/make-tls.py into `dir` (CA key into `dir`/ca); returns its output. */
export function makeStagingTls(dir: string): string {
  return ok(AIRFLOW_PYTHON, [path.join(root, 'deploy/compose/make-tls.py'), dir, path.join(dir, 'ca')]);
}

/**
 * A copy of a compose gateway config whose /run/staging-tls/ files are made by make-tls.py in a temp
 * dir, for `config check` here, which reads the TLS files as `serve` does; the file itself when it names none.
 */
export function withStagingTls(configFile: string): string {
  const text = readFileSync(configFile, 'utf8');
  if (!text.includes('/run/staging-tls/')) return configFile;
  const dir = tempDir('staging-tls-');
  mkdirSync(path.join(dir, 'ca'));
  makeStagingTls(dir);
  // Relative paths in it would now resolve against the temp dir: config check reads none but the TLS files.
  const copy = path.join(dir, path.basename(configFile));
  writeFileSync(copy, text.replaceAll('/run/staging-tls/', `${dir}/`));
  return copy;
}
