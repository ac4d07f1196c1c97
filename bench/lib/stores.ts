// The real backend servers a bench run talks to, from the test harness, and how to
// count what each one received from the gateway, from the server's own records:
//   OpenBao   its file audit device (every request it served, with the token's name);
//   moto      its request recorder (every request, with X-Amz-Target and body);
//   GCP       the emulator's call log.
// Only the gateway's own calls are counted: OpenBao by the gateway's token name, moto
// and GCP by operation (the bench writes with other operations than the gateway reads with).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { awsBackendConfig, awsFixture, gcpBackendConfig, gcpFixture, vaultFixture, type BackendFixture, type StoredValue } from '../../test/helpers/backend-fixtures.ts';
import { startOpenBao, type OpenBaoServer } from '../../test/helpers/servers/openbao.ts';
import type { MotoServer } from '../../test/helpers/servers/moto.ts';
import type { GcpSecretManagerServer } from '../../test/helpers/servers/gcp-secret-manager.ts';

/** Calls one backend received, split by what they cost. */
export interface BackendCalls {
  /** Reads of a secret's value (found or not). */
  reads: number;
  /** Version checks (metadata only: KV v2 metadata, DescribeSecret, GetSecretVersion). */
  versionChecks: number;
  /** Anything else the gateway sent (token lookups and renewals). */
  other: number;
  /** Value reads per secret id. */
  readsById: Map<string, number>;
  versionChecksById: Map<string, number>;
}

const emptyCalls = (): BackendCalls => ({ reads: 0, versionChecks: 0, other: 0, readsById: new Map(), versionChecksById: new Map() });
const bump = (m: Map<string, number>, id: string) => m.set(id, (m.get(id) ?? 0) + 1);

export const GATEWAY_TOKEN_NAME = 'gateway';

export interface VaultStore {
  fixture: BackendFixture;
  bao: OpenBaoServer;
  /** The gateway's vault backend entry (its own read-only token, named so its calls can be told apart). */
  backend(name?: string): Record<string, unknown>;
  calls(): BackendCalls;
  dispose(): Promise<void>;
}

export async function startVaultStore(): Promise<VaultStore> {
  const bao = await startOpenBao({ auditLog: true });
  const fixture = await vaultFixture(2, bao);
  await bao.writeReadPolicy('gateway-read', ['secret']);
  const created = await bao.request('POST', 'auth/token/create', { policies: ['gateway-read'], display_name: GATEWAY_TOKEN_NAME, ttl: '24h' });
  const token = (created.body as { auth: { client_token: string } }).auth.client_token;
  return {
    fixture,
    bao,
    backend: (name = 'vault') => ({ type: 'vault', name, url: bao.url, token }),
    calls: () => {
      const c = emptyCalls();
      for (const r of bao.auditedRequests()) {
        if (r.displayName !== `token-${GATEWAY_TOKEN_NAME}`) continue;
        // secret/data/<connections|variables>/<id> and secret/metadata/...: the id is what follows the kind.
        const m = /^secret\/(data|metadata)\/[^/]+\/(.+)$/.exec(r.path);
        if (!m) c.other++;
        else if (m[1] === 'data') (c.reads++, bump(c.readsById, m[2]!));
        else (c.versionChecks++, bump(c.versionChecksById, m[2]!));
      }
      return c;
    },
    dispose: () => bao.dispose(),
  };
}

export interface AwsStore {
  fixture: BackendFixture;
  moto: MotoServer;
  backend(name?: string): Record<string, unknown>;
  /** Writes a new AWSCURRENT version of an existing secret (a rotation). */
  rotate(secretId: string, value: string): Promise<void>;
  calls(): BackendCalls;
  dispose(): Promise<void>;
}

export async function startAwsStore(): Promise<AwsStore> {
  const fixture = await awsFixture();
  const moto = fixture.moto;
  const recording = join(dirname(moto.logFile), 'moto-recording.jsonl');
  const client = moto.secretsManagerClient();
  return {
    fixture,
    moto,
    backend: (name = 'aws') => ({ ...awsBackendConfig(moto.url), name }),
    rotate: async (secretId, value) => {
      await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
    },
    calls: () => {
      const c = emptyCalls();
      if (!existsSync(recording)) return c;
      for (const line of readFileSync(recording, 'utf8').split('\n')) {
        if (line === '') continue;
        const e = JSON.parse(line) as { headers: Record<string, string>; body: string; body_encoded: boolean };
        const target = Object.entries(e.headers).find(([k]) => k.toLowerCase() === 'x-amz-target')?.[1] ?? '';
        const body = e.body_encoded ? Buffer.from(e.body, 'base64').toString('utf8') : e.body;
        const id = (JSON.parse(body || '{}') as { SecretId?: string }).SecretId ?? '';
        if (target.endsWith('.GetSecretValue')) (c.reads++, bump(c.readsById, id));
        else if (target.endsWith('.DescribeSecret')) (c.versionChecks++, bump(c.versionChecksById, id));
        // CreateSecret / PutSecretValue are the bench's own writes.
      }
      return c;
    },
    dispose: async () => {
      client.destroy();
      await fixture.dispose();
    },
  };
}

export interface GcpStore {
  fixture: BackendFixture;
  gcp: GcpSecretManagerServer;
  backend(name?: string): Record<string, unknown>;
  calls(): Promise<BackendCalls>;
  dispose(): Promise<void>;
}

export async function startGcpStore(): Promise<GcpStore> {
  const fixture = await gcpFixture();
  const gcp = fixture.gcp;
  return {
    fixture,
    gcp,
    backend: (name = 'gcp') => ({ ...gcpBackendConfig(gcp.port), name }),
    calls: async () => {
      const c = emptyCalls();
      for (const call of await gcp.calls()) {
        const name = call.resource;
        if (call.method === 'AccessSecretVersion') (c.reads++, bump(c.readsById, name));
        else if (call.method === 'GetSecretVersion') (c.versionChecks++, bump(c.versionChecksById, name));
      }
      return c;
    },
    dispose: () => fixture.dispose(),
  };
}

export type { StoredValue };
