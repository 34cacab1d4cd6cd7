import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `spot-guard <args>` for real (tsx), with only the given env plus PATH. */
function spotGuard(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('spot-guard config (spawned)', () => {
  it('exits 2 with every problem on stderr when the configuration is invalid', async () => {
    const r = await spotGuard(['config', '--taint-effect', 'NoExecut'], { METADATA_TRIES: 'x' });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /invalid configuration \(3 problems\)/);
    assert.match(r.stderr, /missing NODE_NAME \(--node-name\)/);
    assert.match(r.stderr, /invalid METADATA_TRIES \(--metadata-tries\): "x"/);
    assert.match(r.stderr, /invalid TAINT_EFFECT \(--taint-effect\): "NoExecut" is not one of NoSchedule, PreferNoSchedule, NoExecute/);
  });

  it('exits non-zero on an unknown flag', async () => {
    const r = await spotGuard(['config', '--no-such-flag'], { NODE_NAME: 'n1' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
  });

  it('prints the redacted effective configuration with sources as YAML', async () => {
    const r = await spotGuard(['config', '--dry-run', '--imds-poll-interval', '1s'], {
      NODE_NAME: 'ip-10-0-0-1.ec2.internal',
      WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/TOPSECRET',
      WEBHOOK_HEADERS: '{"Authorization":"Bearer TOPSECRET"}',
      WORKERS: '4',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('TOPSECRET'));
    assert.match(r.stdout, /^NODE_NAME: ip-10-0-0-1\.ec2\.internal # env$/m);
    assert.match(r.stdout, /^DRY_RUN: true # flag$/m);
    assert.match(r.stdout, /^IMDS_POLL_INTERVAL: 1s # flag$/m);
    assert.match(r.stdout, /^METADATA_TRIES: 3 # default$/m);
    const doc = parseYaml(r.stdout) as Record<string, unknown>;
    assert.equal(doc.WEBHOOK_URL, 'https://hooks.slack.com/***');
    assert.deepEqual(doc.WEBHOOK_HEADERS, { Authorization: '***' });
    assert.match(r.stderr, /warning: NTH option WORKERS is set but ignored/);
  });

  it('prints JSON with --output json', async () => {
    const r = await spotGuard(['config', '--output', 'json'], { NODE_NAME: 'n1', WEBHOOK_PROXY: 'http://u:TOPSECRET@proxy:3128' });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { config: Record<string, unknown>; sources: Record<string, string>; warnings: string[] };
    assert.equal(out.config.NODE_NAME, 'n1');
    assert.equal(out.sources.NODE_NAME, 'env');
    assert.equal(out.config.WEBHOOK_PROXY, 'http://***:***@proxy:3128/');
    assert.equal(out.sources.TAINT_EFFECT, 'default');
    assert.ok(!r.stdout.includes('TOPSECRET'));
  });
});
