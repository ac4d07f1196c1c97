// The Dockerfile: hadolint, then its runtime stage replayed without a container
// engine (none here, and no registry to pull the base image from): the production
// install it runs (`npm ci --omit=dev ...`, read from the Dockerfile) in a clean
// directory laid out as its COPY lines lay out the image, the compiled dist/, then
// the gateway started from there as the image's ENTRYPOINT starts it, and the
// image's own HEALTHCHECK command run against it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ok, root, run, tempDir, toolPath } from './tools.ts';

const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const lines = dockerfile.replace(/\\\n\s*/g, '').split('\n');

function stage(name: string): string[] {
  const start = lines.findIndex((l) => new RegExp(`^FROM .* AS ${name}$`, 'i').test(l));
  assert.ok(start >= 0, `no stage ${name} in the Dockerfile`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('FROM '));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l.trim() && !l.startsWith('#'));
}

function execForm(instruction: string, stageLines: string[]): string[] {
  const line = stageLines.find((l) => l.startsWith(`${instruction} `));
  assert.ok(line, `no ${instruction} in the runtime stage`);
  return JSON.parse(line.slice(line.indexOf('['))) as string[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function duBytes(dir: string): number {
  return filesUnder(dir).reduce((sum, f) => {
    const s = statSync(path.join(dir, f));
    return s.isFile() ? sum + s.size : sum;
  }, 0);
}

describe('Dockerfile', () => {
  it('passes hadolint', () => {
    ok(toolPath('hadolint'), ['Dockerfile']);
  });

  it('runtime stage: the production install starts, answers its HEALTHCHECK, serves, and writes nothing outside /tmp', async (t) => {
    assert.ok(existsSync(path.join(root, 'dist/main.js')), 'dist/ is missing: npm run build');
    const runtime = stage('runtime');
    const fs = tempDir('image-');
    const app = path.join(fs, 'app');
    mkdirSync(app);

    // deps stage: the same install command, in a clean directory with only the lockfile.
    const install = stage('deps').find((l) => l.startsWith('RUN npm ci'));
    assert.ok(install && install.includes('--omit=dev'), 'the deps stage must install production dependencies only');
    cpSync(path.join(root, 'package.json'), path.join(app, 'package.json'));
    cpSync(path.join(root, 'package-lock.json'), path.join(app, 'package-lock.json'));
    // --prefer-offline: this machine's npm cache, where CI already has every package.
    const started = Date.now();
    ok('sh', ['-c', `${install.slice('RUN '.length).split('&&')[0]!.trim()} --prefer-offline --silent`], { cwd: app });
    t.diagnostic(`npm ci --omit=dev: ${((Date.now() - started) / 1000).toFixed(1)} s, node_modules ${(duBytes(path.join(app, 'node_modules')) / 1e6).toFixed(1)} MB`);
    // (@types/node is not in the list: protobufjs, under the GCP SDK, depends on it at run time.)
    for (const devOnly of ['typescript', 'node', 'fast-check']) {
      assert.ok(!existsSync(path.join(app, 'node_modules', devOnly)), `devDependency ${devOnly} in the production install`);
    }

    // runtime stage COPY lines: from the build stage (dist/) and from the context.
    cpSync(path.join(root, 'dist'), path.join(app, 'dist'), { recursive: true });
    for (const copy of runtime.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const parts = copy.split(/\s+/).slice(1);
      const dest = parts.pop()!;
      for (const src of parts) {
        const target = dest.startsWith('/') ? path.join(fs, dest) : path.join(app, dest, dest.endsWith('/') ? path.basename(src) : '');
        mkdirSync(path.dirname(target), { recursive: true });
        cpSync(path.join(root, src), target, { recursive: true });
      }
    }
    const configEnv = /SECRETS_GATEWAY_CONFIG=(\S+)/.exec(runtime.find((l) => l.startsWith('ENV '))!)?.[1];
    assert.ok(configEnv && existsSync(path.join(fs, configEnv)), `the image's config ${configEnv} is not where SECRETS_GATEWAY_CONFIG points`);
    const before = filesUnder(fs);

    const port = await freePort();
    const stateDir = /SECRETS_GATEWAY_STATE_DIR=(\S+)/.exec(runtime.filter((l) => l.startsWith('ENV ') || l.startsWith('    ')).join(' '))?.[1];
    assert.ok(stateDir?.startsWith('/tmp/'), 'the image keeps the files the gateway makes for itself under /tmp');
    const env = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      SECRETS_GATEWAY_CONFIG: path.join(fs, configEnv),
      // The image's /tmp, inside this test's stand-in for the root filesystem.
      SECRETS_GATEWAY_STATE_DIR: path.join(fs, stateDir!),
      SECRETS_GATEWAY_PORT: String(port),
      AIRFLOW_VAR_IMAGE_TEST: 'from-the-environment',
    };
    const entrypoint = execForm('ENTRYPOINT', runtime);
    const cmd = execForm('CMD', runtime);
    assert.equal(entrypoint[0], 'node');
    const child = spawn(process.execPath, [...entrypoint.slice(1), ...cmd], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    try {
      const healthcheck = execForm('HEALTHCHECK', runtime);
      assert.equal(healthcheck[0], 'node');
      let healthy = false;
      for (let i = 0; i < 50 && !healthy && child.exitCode === null; i++) {
        healthy = run(process.execPath, healthcheck.slice(1), { env }).status === 0;
        if (!healthy) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(healthy, `the HEALTHCHECK never passed:\n${output}`);
      // The default config has no auth section: dev mode prints a loopback-only token. The HEALTHCHECK ran
      // synchronously, so when its first run passes, the child's output has not been read yet.
      for (let i = 0; i < 100 && !/export SG_TOKEN=\S+\n/.test(output); i++) await new Promise((r) => setTimeout(r, 20));
      const devToken = /export SG_TOKEN=(\S+)/.exec(output)?.[1];
      assert.ok(devToken, `no dev token printed:\n${output}`);
      const res = await fetch(`http://127.0.0.1:${port}/v1/variables/image_test`, { headers: { authorization: `Bearer ${devToken}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { key: 'image_test', value: 'from-the-environment' });
      // Stopped while the server is down, the HEALTHCHECK fails.
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      assert.equal(child.exitCode, 0, output);
      assert.notEqual(run(process.execPath, healthcheck.slice(1), { env }).status, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const outsideTmp = (files: string[]) => files.filter((f) => f !== 'tmp' && !f.startsWith(`tmp${path.sep}`));
    assert.deepEqual(outsideTmp(filesUnder(fs)), outsideTmp(before), 'the gateway wrote files outside /tmp (the image root filesystem is read-only)');
  });
});
