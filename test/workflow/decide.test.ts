import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { actAt, decide, phaseAfterCordon, phaseAfterDrain, wantsDrain } from '../../src/workflow/decide.js';
import { DAY, SEC, T0, policy, record } from './fixtures.js';

const node = (bootId = 'boot-1') => ({ bootId });

describe('decide', () => {
  describe('Pending', () => {
    it('waits until startTime − NODE_TERMINATION_GRACE_PERIOD, then cordons', () => {
      const start = T0 + DAY;
      const rec = record('ev-1', 'SCHEDULED_EVENT', { code: 'system-maintenance' }, { startTime: start });
      const p = policy({ nodeTerminationGracePeriodMs: 300 * SEC });
      const before = decide(rec, { now: start - 301 * SEC, node: node(), policy: p });
      assert.equal(before.type, 'wait');
      assert.equal(before.type === 'wait' ? before.until : undefined, start - 300 * SEC);
      assert.deepEqual(decide(rec, { now: start - 300 * SEC, node: node(), policy: p }), { type: 'cordon' });
      assert.deepEqual(decide(rec, { now: start + 10 * SEC, node: node(), policy: p }), { type: 'cordon' }, 'late is still acted on');
    });

    it('an ITN (2 min ahead) with the default 120 s grace period is acted on at once', () => {
      const rec = record('itn-1', 'SPOT_ITN', {}, { startTime: T0 + 120 * SEC, now: T0 });
      assert.deepEqual(decide(rec, { now: T0, node: node(), policy: policy() }), { type: 'cordon' });
    });

    it('actAt follows the grace period', () => {
      const rec = record('ev-1', 'SCHEDULED_EVENT', {}, { startTime: T0 + DAY });
      assert.equal(actAt(rec, policy({ nodeTerminationGracePeriodMs: 60 * SEC })), T0 + DAY - 60 * SEC);
    });
  });

  describe('Cordoned', () => {
    const ctx = (p = policy()) => ({ now: T0, node: node(), policy: p });

    it('an ITN drains', () => {
      assert.deepEqual(decide(record('itn-1', 'SPOT_ITN', { phase: 'Cordoned' }), ctx()), { type: 'drain' });
    });

    it('CORDON_ONLY stops at Cordoned', () => {
      for (const kind of ['SPOT_ITN', 'SCHEDULED_EVENT', 'ASG_LIFECYCLE', 'REBALANCE_RECOMMENDATION'] as const) {
        assert.deepEqual(decide(record('x', kind, { phase: 'Cordoned' }), ctx(policy({ cordonOnly: true, rebalanceDrain: true }))), { type: 'none' }, kind);
      }
    });

    it('rebalance monitoring only (no rebalance draining) stops at Cordoned', () => {
      assert.deepEqual(decide(record('rb', 'REBALANCE_RECOMMENDATION', { phase: 'Cordoned' }), ctx(policy({ rebalanceDrain: false }))), { type: 'none' });
    });

    it('rebalance draining drains', () => {
      assert.deepEqual(decide(record('rb', 'REBALANCE_RECOMMENDATION', { phase: 'Cordoned' }), ctx(policy({ rebalanceDrain: true }))), { type: 'drain' });
    });

    it('respects the drain backoff', () => {
      const rec = record('itn-1', 'SPOT_ITN', { phase: 'Cordoned' });
      const step = decide(rec, { now: T0, node: node(), policy: policy(), retryAt: T0 + 5 * SEC });
      assert.equal(step.type, 'wait');
      assert.equal(step.type === 'wait' ? step.until : undefined, T0 + 5 * SEC);
    });
  });

  describe('Draining', () => {
    it('resumes the drain (e.g. after a restart)', () => {
      assert.deepEqual(decide(record('itn-1', 'SPOT_ITN', { phase: 'Draining' }), { now: T0, node: node(), policy: policy() }), { type: 'drain' });
    });

    it('waits for the backoff, then drains again', () => {
      const rec = record('itn-1', 'SPOT_ITN', { phase: 'Draining' });
      const retryAt = T0 + 10 * SEC;
      assert.equal(decide(rec, { now: T0, node: node(), policy: policy(), retryAt }).type, 'wait');
      assert.deepEqual(decide(rec, { now: retryAt, node: node(), policy: policy(), retryAt }), { type: 'drain' });
    });
  });

  describe('AwaitingReboot', () => {
    const rec = record('ev-1', 'SCHEDULED_EVENT', { phase: 'AwaitingReboot', code: 'system-reboot' }, { bootId: 'boot-1' });

    it('waits while the node has not rebooted', () => {
      const step = decide(rec, { now: T0, node: node('boot-1'), policy: policy() });
      assert.equal(step.type, 'wait');
    });

    it('uncordons once the boot id changed', () => {
      assert.equal(decide(rec, { now: T0, node: node('boot-2'), policy: policy() }).type, 'uncordon');
    });

    it('an unknown boot id (empty) is not taken for a reboot', () => {
      assert.equal(decide(rec, { now: T0, node: node(''), policy: policy() }).type, 'wait');
    });
  });

  it('Canceled uncordons', () => {
    assert.equal(decide(record('ev-1', 'SCHEDULED_EVENT', { phase: 'Canceled' }), { now: T0, node: node(), policy: policy() }).type, 'uncordon');
  });

  it('Drained and Done need nothing', () => {
    for (const phase of ['Drained', 'Done'] as const) {
      assert.deepEqual(decide(record('itn-1', 'SPOT_ITN', { phase }), { now: T0, node: node('boot-2'), policy: policy() }), { type: 'none' });
    }
  });
});

describe('wantsDrain', () => {
  it('rebalance drains only with ENABLE_REBALANCE_DRAINING; nothing drains with CORDON_ONLY', () => {
    const rb = record('rb', 'REBALANCE_RECOMMENDATION');
    const itn = record('itn', 'SPOT_ITN');
    assert.equal(wantsDrain(rb, policy()), false);
    assert.equal(wantsDrain(rb, policy({ rebalanceDrain: true })), true);
    assert.equal(wantsDrain(itn, policy()), true);
    assert.equal(wantsDrain(itn, policy({ cordonOnly: true })), false);
  });
});

describe('phaseAfterCordon / phaseAfterDrain', () => {
  const reboot = (code: string) => record('ev-1', 'SCHEDULED_EVENT', { code });

  it('a reboot event handled cordon-only still awaits the reboot (to uncordon after it)', () => {
    for (const code of ['instance-reboot', 'system-reboot']) {
      assert.equal(phaseAfterCordon(reboot(code), policy({ cordonOnly: true })), 'AwaitingReboot', code);
    }
  });

  it('other cordon-only events stay Cordoned (never claimed as Drained)', () => {
    assert.equal(phaseAfterCordon(reboot('system-maintenance'), policy({ cordonOnly: true })), 'Cordoned');
    assert.equal(phaseAfterCordon(record('itn', 'SPOT_ITN'), policy({ cordonOnly: true })), 'Cordoned');
    assert.equal(phaseAfterCordon(record('rb', 'REBALANCE_RECOMMENDATION'), policy()), 'Cordoned');
  });

  it('when a drain follows, the cordon records Cordoned', () => {
    assert.equal(phaseAfterCordon(reboot('system-reboot'), policy()), 'Cordoned');
    assert.equal(phaseAfterCordon(record('itn', 'SPOT_ITN'), policy()), 'Cordoned');
  });

  it('after the drain: reboot events await the reboot, the rest are Drained', () => {
    assert.equal(phaseAfterDrain(reboot('instance-reboot')), 'AwaitingReboot');
    assert.equal(phaseAfterDrain(reboot('instance-retirement')), 'Drained');
    assert.equal(phaseAfterDrain(record('itn', 'SPOT_ITN')), 'Drained');
  });
});
