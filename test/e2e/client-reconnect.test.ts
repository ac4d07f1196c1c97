// The Python client's keep-alive connection across a real gateway restart: a long-lived worker
// process reads through the gateway, the gateway stops (closing the kept-alive connection) and
// starts again on the same port, and the next lookup opens a new connection and succeeds at once,
// with no retry allowed (retries: 0).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestGateway, tempDir, type TestGateway } from '../helpers/gateway.ts';

const PYTHON = process.env['AIRFLOW_PYTHON'];
const HERE = path.dirname(fileURLToPath(import.meta.url));
const skip = PYTHON ? false : 'AIRFLOW_PYTHON is not set (test/run-all.sh sets it after provisioning .venv/airflow)';
const VARIABLES = { first: 'before the restart', second: 'after the restart' };

const gateways: TestGateway[] = [];
after(async () => {
  for (const g of gateways) await g.close().catch(() => undefined);
});

async function gatewayOn(dir: string, port: number): Promise<TestGateway> {
  const gateway = await startTestGateway({
    dir,
    config: { log: { level: 'warn' }, backends: [{ type: 'local_filesystem', variables_file_path: './v.json' }] },
    files: { 'v.json': JSON.stringify(VARIABLES) },
    secrets: Object.values(VARIABLES),
  });
  gateways.push(gateway);
  await gateway.app.listen({ host: '127.0.0.1', port });
  return gateway;
}

test('a kept-alive connection cut by a gateway restart: the next lookup reconnects and succeeds', { skip }, async () => {
  const dir = tempDir('sg-e2e-reconnect-');
  const first = await gatewayOn(dir, 0);
  const port = (first.app.server.address() as AddressInfo).port;
  // Each test gateway signs with a key of its own: the worker's token file is rewritten for the second one (and re-read).
  const tokenFile = path.join(dir, 'worker-token');
  writeFileSync(tokenFile, first.token(['variables:read:*']));
  const kwargs = { url: `http://127.0.0.1:${port}`, token_path: tokenFile, retries: 0, timeout: 5 };
  const child = spawn(PYTHON!, [path.join(HERE, 'client_lookups.py'), JSON.stringify(kwargs)], {
    env: { PATH: process.env['PATH'], PYTHONPATH: path.resolve(HERE, '../../clients/airflow/src'), PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (id: string): Promise<Record<string, unknown>> => {
    child.stdin!.write(`${JSON.stringify({ kind: 'variable', id })}\n`);
    const line = await lines.next();
    return JSON.parse(line.value as string) as Record<string, unknown>;
  };
  const peers = new Set<number>();
  const track = (g: TestGateway): void => {
    g.app.server.on('connection', (socket) => peers.add(socket.remotePort!));
  };
  try {
    track(first);
    assert.deepEqual(await ask('first'), { value: VARIABLES.first });
    assert.deepEqual(await ask('first'), { value: VARIABLES.first });
    assert.equal(peers.size, 1, 'one kept-alive connection for both lookups');

    await first.close(); // the process stops: its connections are closed
    const second = await gatewayOn(dir, port);
    track(second);
    writeFileSync(tokenFile, second.token(['variables:read:*']));
    assert.deepEqual(await ask('second'), { value: VARIABLES.second });
    assert.equal(peers.size, 2, 'a new connection after the restart');
  } finally {
    child.stdin!.end();
    child.kill();
  }
});
