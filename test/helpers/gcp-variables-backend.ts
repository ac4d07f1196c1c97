// A minimal variables-only backend over the GCP Secret Manager emulator, with the
// real @google-cloud/secret-manager client: it makes the cache tests talk to a
// real server process whose call log counts every lookup, and that a test can
// stop and restart. It stands in until the project's own GCP backend is merged;
// the cache knows backends only through SecretsBackend, so nothing changes then.
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { Type } from '@sinclair/typebox';
import { backendSchema } from '../../src/config/schema.ts';
import type { BackendFactory } from '../../src/backends/registry-types.ts';
import { BackendError, type Found, type SecretKind, type SecretsBackend, type VariableValue } from '../../src/backends/types.ts';

const NOT_FOUND = 5;
// Fail fast: google-gax would otherwise retry UNAVAILABLE for up to 600 s.
const CALL_OPTIONS = { timeout: 2000, maxRetries: 0 };

export const PROJECT = 'projects/harness-project';
export const variableSecretId = (key: string) => `airflow-variables-${key}`;

class GcpVariablesBackend implements SecretsBackend {
  readonly type = 'test_gcp_variables';
  readonly name: string;
  private readonly client: SecretManagerServiceClient;

  constructor(name: string, client: SecretManagerServiceClient) {
    this.name = name;
    this.client = client;
  }
  serves(kind: SecretKind): boolean {
    return kind === 'variable';
  }
  async init(): Promise<void> {}
  status() {
    return { state: 'ready' as const };
  }
  async getConnection(): Promise<null> {
    return null;
  }
  async getConfig(): Promise<null> {
    return null;
  }
  private name_(key: string): string {
    return `${PROJECT}/secrets/${variableSecretId(key)}/versions/latest`;
  }
  async getVariable(key: string): Promise<Found<VariableValue> | null> {
    try {
      const [res] = await this.client.accessSecretVersion({ name: this.name_(key) }, CALL_OPTIONS);
      return { value: Buffer.from(res.payload!.data as Uint8Array).toString('utf8'), version: res.name! };
    } catch (err) {
      if ((err as { code?: number }).code === NOT_FOUND) return null;
      throw new BackendError('unreachable', `${this.name}: Secret Manager call failed`);
    }
  }
  async getVersion(_kind: SecretKind, key: string): Promise<string | null> {
    try {
      const [res] = await this.client.getSecretVersion({ name: this.name_(key) }, CALL_OPTIONS);
      return res.name ?? null;
    } catch (err) {
      if ((err as { code?: number }).code === NOT_FOUND) return null;
      throw new BackendError('unreachable', `${this.name}: Secret Manager call failed`);
    }
  }
  async close(): Promise<void> {
    await this.client.close();
  }
}

export function gcpVariablesBackendFactory(client: () => SecretManagerServiceClient): BackendFactory {
  return {
    type: 'test_gcp_variables',
    optionsSchema: backendSchema({ type: Type.Literal('test_gcp_variables') }),
    create: (options) => new GcpVariablesBackend(options.name ?? 'gcp', client()),
  };
}
