// 1,000 concurrent cold requests for one key → one backend call (issue 7, target 2): a
// gateway process over OpenBao, a load process opening 1,000 connections that each send
// one request for the same key the gateway has never seen. The calls are counted by
// OpenBao's own audit device.
import { makeTempDir } from '../../test/helpers/servers/common.ts';
import { benchGatewayConfig } from '../lib/gateway-config.ts';
import { measureLoad, startGateway } from '../lib/processes.ts';
import { startVaultStore } from '../lib/stores.ts';
import type { Measured } from './throughput.ts';

export interface HerdResult {
  concurrent: number;
  load: Measured;
  /** KV reads OpenBao received for the key, from its audit log. */
  backendReads: number;
  /** Every other request the gateway's token made (token lookups at start). */
  otherBackendCalls: number;
}

export async function measureHerd(concurrent: number): Promise<HerdResult> {
  const vault = await startVaultStore();
  try {
    await vault.fixture.put('connection', 'herd_key', { uri: 'postgresql://airflow:pw@db.internal:5432/airflow' });
    const dir = makeTempDir('bench-gateway');
    const { config, token } = benchGatewayConfig({ dir, backends: [vault.backend()] });
    const gateway = await startGateway({ config, dir });
    try {
      const load = await measureLoad(gateway, {
        url: `${gateway.url}/v1/connections/herd_key`,
        connections: concurrent,
        amount: concurrent,
        headers: { authorization: `Bearer ${token}` },
        timeoutSeconds: 30,
      });
      const calls = vault.calls();
      return { concurrent, load, backendReads: calls.readsById.get('herd_key') ?? 0, otherBackendCalls: calls.other };
    } finally {
      await gateway.stop();
    }
  } finally {
    await vault.dispose();
  }
}
