// Builds a real gateway for a test: real backends on temp files, a logger whose
// lines the test can read (for leak checks), and the OpenAPI contract checked on
// every response.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { buildGateway, type Gateway } from '../../src/app.ts';
import type { BackendFactory } from '../../src/backends/registry-types.ts';
import type { BackendEntry } from '../../src/config/schema.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logging.ts';
import { recordContractViolations } from './contract.ts';

export interface TestGateway extends Gateway {
  dir: string;
  logs: string[];
  contractProblems: string[];
  close(): Promise<void>;
}

export function tempDir(prefix = 'sg-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Writes `files` (name → content) into a fresh temp dir and a config.yaml there, then builds the gateway. */
export async function startTestGateway(options: {
  config: Record<string, unknown>;
  files?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  dir?: string;
  /** Called before the app is ready, e.g. to add a hook that records requests. */
  beforeReady?: (app: Gateway['app']) => void;
  /** Test-only backend types (over a harness server's API) and the chain that uses them, which
   * replaces the config's `backends` after validation (the registry does not know these types). */
  testBackends?: { factories: BackendFactory[]; chain: BackendEntry[] };
}): Promise<TestGateway> {
  const dir = options.dir ?? tempDir();
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, name), content);
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(options.config));
  const env = options.env ?? {};
  const { config } = loadConfig({ configPath, env });
  if (options.testBackends) config.backends = options.testBackends.chain;
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const gateway = await buildGateway(config, { logger, env, ...(options.testBackends ? { backendFactories: options.testBackends.factories } : {}) });
  const contractProblems = recordContractViolations(gateway.app);
  options.beforeReady?.(gateway.app);
  await gateway.app.ready();
  return { ...gateway, dir, logs, contractProblems, close: () => gateway.app.close() };
}
