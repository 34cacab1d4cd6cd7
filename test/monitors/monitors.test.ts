import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asgLifecycleMonitor, rebalanceMonitor, scheduledEventMonitor, spotItnMonitor } from '../../src/monitors/monitors.js';
import { FakeSource } from './fakes.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

describe('spot ITN monitor', () => {
  it('no notice → nothing', async () => {
    assert.deepEqual(await spotItnMonitor(new FakeSource(), 'i-1').poll(), []);
  });

  it('keeps one id across polls while the mock moves the time', async () => {
    const src = new FakeSource();
    const m = spotItnMonitor(src, 'i-1');
    const seen = [];
    for (let i = 0; i < 3; i++) {
      src.itn = { action: 'terminate', time: new Date(T0 + i * 2_000 + 120_000) };
      seen.push(...(await m.poll()));
    }
    assert.equal(seen.length, 3);
    assert.equal(new Set(seen.map((n) => n.id)).size, 1);
    assert.equal(seen[0]?.kind, 'SPOT_ITN');
    assert.equal(seen[2]?.startTime, T0 + 4_000 + 120_000);
    assert.match(seen[0]!.description, /terminate/);
  });

  it('different instances get different ids', async () => {
    const src = new FakeSource();
    src.itn = { action: 'terminate', time: new Date(T0) };
    const [a] = await spotItnMonitor(src, 'i-1').poll();
    const [b] = await spotItnMonitor(src, 'i-2').poll();
    assert.notEqual(a?.id, b?.id);
  });
});

describe('rebalance monitor', () => {
  it('keeps one id across polls while the notice time moves', async () => {
    const src = new FakeSource();
    const m = rebalanceMonitor(src, 'i-1');
    src.rebalance = { noticeTime: new Date(T0) };
    const [a] = await m.poll();
    src.rebalance = { noticeTime: new Date(T0 + 2_000) };
    const [b] = await m.poll();
    assert.equal(a?.kind, 'REBALANCE_RECOMMENDATION');
    assert.equal(a?.id, b?.id);
    assert.equal(b?.startTime, T0 + 2_000);
    src.rebalance = null;
    assert.deepEqual(await m.poll(), []);
  });
});

describe('scheduled event monitor', () => {
  it('maps each event with its AWS id, code, state and window', async () => {
    const src = new FakeSource();
    src.scheduled = [
      { code: 'system-reboot', description: 'scheduled reboot', state: 'active', eventId: 'instance-event-0d59937288b749b32', notBefore: new Date(T0), notAfter: new Date(T0 + 3_600_000) },
      { code: 'instance-stop', description: 'retire', state: 'canceled', eventId: 'instance-event-1', notBefore: new Date(T0 + 1_000) },
    ];
    const notices = await scheduledEventMonitor(src).poll();
    assert.equal(notices.length, 2);
    const [a, b] = notices;
    assert.equal(a?.id, 'instance-event-0d59937288b749b32');
    assert.equal(a?.kind, 'SCHEDULED_EVENT');
    assert.deepEqual(a?.scheduled, { code: 'system-reboot', state: 'active' });
    assert.equal(a?.startTime, T0);
    assert.equal(a?.endTime, T0 + 3_600_000);
    assert.match(a!.description, /scheduled reboot/);
    assert.deepEqual(b?.scheduled, { code: 'instance-stop', state: 'canceled' });
    assert.equal(b?.endTime, undefined);
  });
});

describe('ASG lifecycle monitor', () => {
  it('reports only the Terminated state', async () => {
    const src = new FakeSource();
    let now = T0;
    const m = asgLifecycleMonitor(src, 'i-1', () => now);
    for (const state of [null, 'InService', 'Pending', 'Warmed:Terminated']) {
      src.lifecycle = state;
      assert.deepEqual(await m.poll(), [], String(state));
    }
    src.lifecycle = 'Terminated';
    const [a] = await m.poll();
    now += 10_000;
    const [b] = await m.poll();
    assert.equal(a?.kind, 'ASG_LIFECYCLE');
    assert.equal(a?.startTime, T0);
    assert.equal(a?.id, b?.id, 'one id across polls');
  });
});
