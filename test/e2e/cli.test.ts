import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CONFIG_EXIT_CODE } from '../../src/cli/config-command.js';

/** The real CLI, spawned: bad configuration fails fast and clearly; `simulate` runs a whole scenario. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/cli/main.ts <args>` with only PATH plus `env`; killed after `timeoutMs` of real time. */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('spot-guard run with an invalid configuration (spawned)', () => {
  it('exits non-zero naming the missing NODE_NAME', async () => {
    const r = await cli(['run'], { INSTANCE_METADATA_URL: 'http://127.0.0.1:9' });
    assert.equal(r.signal, null, 'finished on its own');
    assert.equal(r.code, CONFIG_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /missing NODE_NAME \(--node-name\)/);
    assert.match(r.stderr, /required/);
  });

  it('exits non-zero naming TAINT_EFFECT, the bad value and the allowed values', async () => {
    const r = await cli(['run'], { NODE_NAME: 'node-a', TAINT_EFFECT: 'Bogus' });
    assert.equal(r.signal, null, 'finished on its own');
    assert.equal(r.code, CONFIG_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /TAINT_EFFECT/);
    assert.match(r.stderr, /"Bogus"/);
    assert.match(r.stderr, /NoSchedule, PreferNoSchedule, NoExecute/);
  });

  it('exits non-zero naming NODE_TERMINATION_GRACE_PERIOD, the bad value and what is allowed', async () => {
    const r = await cli(['run'], { NODE_NAME: 'node-a', NODE_TERMINATION_GRACE_PERIOD: 'abc' });
    assert.equal(r.signal, null, 'finished on its own');
    assert.equal(r.code, CONFIG_EXIT_CODE, r.stderr);
    assert.match(r.stderr, /NODE_TERMINATION_GRACE_PERIOD/);
    assert.match(r.stderr, /"abc"/);
    assert.match(r.stderr, /integer >= 1 \(seconds\)/);
  });
});

describe('spot-guard simulate (spawned)', () => {
  it('runs the default scenario to the end: cordon, evictions, summary, exit 0', async () => {
    const r = await cli(['simulate', '--speed', '100'], {}, 60_000);
    assert.equal(r.signal, null, `finished on its own; stderr: ${r.stderr.slice(-2000)}`);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stdout, /cordoned/);
    assert.match(r.stdout, /terminating \(evicted\)/);
    assert.match(r.stdout, /Summary/);
  });

  it('exits 2 with a clear message for a scenario file that does not exist', async () => {
    const r = await cli(['simulate', '--scenario', '/nonexistent.yaml']);
    assert.equal(r.signal, null, 'finished on its own');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\/nonexistent\.yaml/);
    assert.match(r.stderr, /no such file|not found|cannot read/i);
    assert.equal(r.stdout, '');
  });
});
