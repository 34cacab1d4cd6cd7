import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDurationMs, parseDurationMs } from '../../src/config/duration.js';
import { BASE_ENV, load } from './helpers.js';

describe('parseDurationMs', () => {
  it('reads plain seconds', () => {
    assert.equal(parseDurationMs('120'), 120_000);
    assert.equal(parseDurationMs('90'), 90_000);
    assert.equal(parseDurationMs('0'), 0);
    assert.equal(parseDurationMs('1.5'), 1_500);
    assert.equal(parseDurationMs(' 10 '), 10_000);
  });

  it('reads Go durations', () => {
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('90s'), 90_000);
    assert.equal(parseDurationMs('1h30m'), 5_400_000);
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('1m30s500ms'), 90_500);
    assert.equal(parseDurationMs('1.5h'), 5_400_000);
    assert.equal(parseDurationMs('2000000ns'), 2);
    assert.equal(parseDurationMs('1500us'), 2);
    assert.equal(parseDurationMs('1500µs'), 2);
    assert.equal(parseDurationMs('0s'), 0);
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['2x', '', ' ', 'm', '1d', '2M', '-1s', '1h 30m', 'abc', '1.2.3s', 's10', '10s!', 'Infinity']) {
      assert.equal(parseDurationMs(bad), undefined, bad);
    }
  });

  it('formats back to something it reads', () => {
    for (const [ms, text] of [
      [0, '0s'],
      [500, '500ms'],
      [2_000, '2s'],
      [90_000, '1m30s'],
      [120_000, '2m'],
      [5_400_000, '1h30m'],
      [1_500, '1s500ms'],
    ] as const) {
      assert.equal(formatDurationMs(ms), text);
      assert.equal(parseDurationMs(text), ms);
    }
  });
});

describe('duration options', () => {
  it('take seconds or Go durations, held in ms', () => {
    const { config } = load(['--spot-guard-scale-timeout', '2m', '--spot-guard-capacity-check-timeout=90'], {
      ...BASE_ENV,
      SPOT_GUARD_POLL_INTERVAL: '1m30s',
      IMDS_POLL_INTERVAL: '500ms',
      SHUTDOWN_TIMEOUT: '0',
    });
    assert.equal(config.spotGuardScaleTimeoutMs, 120_000);
    assert.equal(config.spotGuardCapacityCheckTimeoutMs, 90_000);
    assert.equal(config.spotGuardPollIntervalMs, 90_000);
    assert.equal(config.imdsPollIntervalMs, 500);
    assert.equal(config.shutdownTimeoutMs, 0);
  });
});
