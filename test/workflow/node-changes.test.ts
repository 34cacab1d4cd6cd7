import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeView } from '../../src/kube/types.js';
import {
  ACTION_UNCORDON_AFTER_REBOOT,
  EXCLUDE_LB_VALUE,
  LABEL_ACTION,
  LABEL_ACTION_TIME,
  LABEL_EVENT_ID,
  LABEL_EXCLUDE_LB,
} from '../../src/workflow/labels.js';
import { applyNodeChange } from '../../src/kube/apply-change.js';
import { cordonChange, recordChange, recordsOf, uncordonChange } from '../../src/workflow/node-changes.js';
import type { EventRecord } from '../../src/workflow/record.js';
import { SEC, T0, node, policy, record, recordsMap } from './fixtures.js';

const apply = applyNodeChange;

const longId = 'i'.repeat(40) + '-' + 'x'.repeat(40);
const foreignTaint = { key: 'dedicated', value: 'gpu', effect: 'NoExecute' as const };

function cordon(n: NodeView, rec: EventRecord, p = policy(), next: EventRecord['phase'] = 'Cordoned', now = T0 + SEC): NodeView {
  return apply(n, cordonChange(n, rec, p, next, now));
}

describe('cordonChange', () => {
  it('cordons and records the phase in the same change', () => {
    const rec = record('itn-1', 'SPOT_ITN');
    const c = cordonChange(node({}, recordsMap(rec)), rec, policy(), 'Cordoned', T0 + 5 * SEC);
    assert.equal(c.unschedulable, true);
    assert.equal(c.taints, undefined, 'no taint without TAINT_NODE');
    const after = recordsOf(apply(node({}, recordsMap(rec)), c))['itn-1'];
    assert.equal(after?.phase, 'Cordoned');
    assert.equal(after?.updatedAt, new Date(T0 + 5 * SEC).toISOString());
    assert.equal(c.labels?.[LABEL_EVENT_ID], 'itn-1');
  });

  it("adds NTH's taint (key by kind, value = event id cut to 63 chars, effect from policy) and keeps other taints", () => {
    const keys = {
      SPOT_ITN: 'aws-node-termination-handler/spot-itn',
      REBALANCE_RECOMMENDATION: 'aws-node-termination-handler/rebalance-recommendation',
      SCHEDULED_EVENT: 'aws-node-termination-handler/scheduled-maintenance',
      ASG_LIFECYCLE: 'aws-node-termination-handler/asg-lifecycle-termination',
    } as const;
    for (const [kind, key] of Object.entries(keys) as [keyof typeof keys, string][]) {
      const rec = record(longId, kind);
      const n = node({ taints: [foreignTaint] }, recordsMap(rec));
      const c = cordonChange(n, rec, policy({ taintNode: true, taintEffect: 'NoExecute' }), 'Cordoned', T0);
      assert.deepEqual(c.taints, [foreignTaint, { key, value: longId.slice(0, 63), effect: 'NoExecute' }], kind);
      assert.equal(c.labels?.[LABEL_EVENT_ID]?.length, 63);
    }
  });

  it('is idempotent: cordoning twice leaves one taint', () => {
    const rec = record('itn-1', 'SPOT_ITN');
    const p = policy({ taintNode: true });
    const once = cordon(node({ taints: [foreignTaint] }, recordsMap(rec)), rec, p);
    const twice = cordon(once, rec, p);
    assert.deepEqual(twice.taints, once.taints);
    assert.equal(twice.taints.length, 2);
  });

  it('labels the node for exclusion from external load balancers only when enabled', () => {
    const rec = record('itn-1', 'SPOT_ITN');
    const n = node({}, recordsMap(rec));
    assert.equal(cordonChange(n, rec, policy({ excludeFromLoadBalancers: true }), 'Cordoned', T0).labels?.[LABEL_EXCLUDE_LB], EXCLUDE_LB_VALUE);
    assert.equal(cordonChange(n, rec, policy(), 'Cordoned', T0).labels?.[LABEL_EXCLUDE_LB], undefined);
  });

  it('marks reboot events UncordonAfterReboot with the action time, and no others', () => {
    const now = T0 + 42 * SEC;
    for (const code of ['instance-reboot', 'system-reboot']) {
      const rec = record('ev-1', 'SCHEDULED_EVENT', { code });
      const c = cordonChange(node({}, recordsMap(rec)), rec, policy(), 'Cordoned', now);
      assert.equal(c.labels?.[LABEL_ACTION], ACTION_UNCORDON_AFTER_REBOOT, code);
      assert.equal(c.labels?.[LABEL_ACTION_TIME], String(Math.floor(now / 1000)));
    }
    const maint = record('ev-2', 'SCHEDULED_EVENT', { code: 'system-maintenance' });
    assert.equal(cordonChange(node({}, recordsMap(maint)), maint, policy(), 'Cordoned', now).labels?.[LABEL_ACTION], undefined);
  });

  it('remembers that an admin had cordoned the node first', () => {
    const rec = record('itn-1', 'SPOT_ITN');
    const admin = cordon(node({ unschedulable: true }, recordsMap(rec)), rec);
    assert.equal(recordsOf(admin)['itn-1']?.wasUnschedulable, true);
    const free = cordon(node({}, recordsMap(rec)), rec);
    assert.equal(recordsOf(free)['itn-1']?.wasUnschedulable, undefined);
  });

  it('does not take our own earlier cordon for an admin cordon', () => {
    const a = record('ev-a', 'SCHEDULED_EVENT', { code: 'system-reboot' });
    const b = record('ev-b', 'SCHEDULED_EVENT', { code: 'instance-reboot' });
    const afterA = cordon(node({}, recordsMap(a, b)), a);
    const afterB = cordon(afterA, b);
    assert.equal(recordsOf(afterB)['ev-b']?.wasUnschedulable, undefined);
  });

  it('keeps the other records on the node', () => {
    const a = record('ev-a', 'SCHEDULED_EVENT', { code: 'system-reboot', phase: 'Done' });
    const b = record('itn-1', 'SPOT_ITN');
    const after = cordon(node({}, recordsMap(a, b)), b);
    assert.deepEqual(Object.keys(recordsOf(after)).sort(), ['ev-a', 'itn-1']);
    assert.equal(recordsOf(after)['ev-a']?.phase, 'Done');
  });
});

describe('uncordonChange', () => {
  const p = policy({ taintNode: true, excludeFromLoadBalancers: true });

  it('undoes exactly what the cordon did and marks the record Done', () => {
    const rec = record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot' });
    const before = node({ taints: [foreignTaint], labels: { team: 'a' } }, recordsMap(rec));
    const cordoned = cordon(before, rec, p, 'AwaitingReboot');
    const current = recordsOf(cordoned)['ev-1']!;
    const undone = apply(cordoned, uncordonChange(cordoned, current, p, T0 + 60 * SEC));
    assert.equal(undone.unschedulable, false);
    assert.deepEqual(undone.taints, [foreignTaint]);
    assert.deepEqual(undone.labels, { team: 'a' });
    assert.equal(recordsOf(undone)['ev-1']?.phase, 'Done');
  });

  it('never uncordons a node that someone else had cordoned before us', () => {
    const rec = record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot' });
    const cordoned = cordon(node({ unschedulable: true }, recordsMap(rec)), rec, p);
    const c = uncordonChange(cordoned, recordsOf(cordoned)['ev-1']!, p, T0);
    assert.notEqual(c.unschedulable, false);
    assert.equal(apply(cordoned, c).unschedulable, true);
  });

  it('keeps the cordon (and LB exclusion) while another record still holds it, and removes only its own taint', () => {
    const itn = record('itn-1', 'SPOT_ITN');
    const ev = record('ev-1', 'SCHEDULED_EVENT', { code: 'system-maintenance' });
    let n = node({}, recordsMap(itn, ev));
    n = cordon(n, ev, p);
    n = cordon(n, itn, p);
    const c = uncordonChange(n, recordsOf(n)['ev-1']!, p, T0);
    const after = apply(n, c);
    assert.equal(after.unschedulable, true);
    assert.equal(after.labels[LABEL_EXCLUDE_LB], EXCLUDE_LB_VALUE);
    assert.deepEqual(after.taints.map((t) => t.key), ['aws-node-termination-handler/spot-itn']);
    assert.equal(after.labels[LABEL_EVENT_ID], 'itn-1', "the other event's id label stays");
    assert.equal(recordsOf(after)['itn-1']?.phase, 'Cordoned');
    assert.equal(recordsOf(after)['ev-1']?.phase, 'Done');
  });

  it("an admin's cordon survives two of our events ending in either order", () => {
    for (const order of [['ev-a', 'ev-b'], ['ev-b', 'ev-a']]) {
      const a = record('ev-a', 'SCHEDULED_EVENT', { code: 'system-reboot' });
      const b = record('ev-b', 'SCHEDULED_EVENT', { code: 'instance-reboot' });
      let n = node({ unschedulable: true }, recordsMap(a, b));
      n = cordon(n, a, p, 'AwaitingReboot');
      n = cordon(n, b, p, 'AwaitingReboot');
      for (const id of order) n = apply(n, uncordonChange(n, recordsOf(n)[id]!, p, T0));
      assert.equal(n.unschedulable, true, order.join(' then '));
      assert.equal(recordsOf(n)['ev-a']?.phase, 'Done');
      assert.equal(recordsOf(n)['ev-b']?.phase, 'Done');
    }
  });

  it('two of our events on a free node: the node is uncordoned when the last one ends', () => {
    const a = record('ev-a', 'SCHEDULED_EVENT', { code: 'system-reboot' });
    const b = record('ev-b', 'SCHEDULED_EVENT', { code: 'instance-reboot' });
    let n = node({}, recordsMap(a, b));
    n = cordon(n, a, p, 'AwaitingReboot');
    n = cordon(n, b, p, 'AwaitingReboot');
    n = apply(n, uncordonChange(n, recordsOf(n)['ev-a']!, p, T0));
    assert.equal(n.unschedulable, true);
    assert.equal(n.labels[LABEL_ACTION], ACTION_UNCORDON_AFTER_REBOOT, 'the other reboot event still wants its labels');
    n = apply(n, uncordonChange(n, recordsOf(n)['ev-b']!, p, T0));
    assert.equal(n.unschedulable, false);
    assert.equal(n.labels[LABEL_ACTION], undefined);
    assert.equal(n.labels[LABEL_ACTION_TIME], undefined);
    assert.equal(n.labels[LABEL_EXCLUDE_LB], undefined);
  });

  it("does not remove a load-balancer label it did not set", () => {
    const rec = record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot', phase: 'Canceled' });
    const n = node({ unschedulable: true, labels: { [LABEL_EXCLUDE_LB]: 'true' } }, recordsMap(rec));
    assert.equal(uncordonChange(n, rec, p, T0).labels?.[LABEL_EXCLUDE_LB], undefined);
  });
});

describe('recordChange', () => {
  it('changes only the annotation, only that record', () => {
    const a = record('itn-1', 'SPOT_ITN', { phase: 'Cordoned' });
    const b = record('rb', 'REBALANCE_RECOMMENDATION', { phase: 'Cordoned' });
    const n = node({ unschedulable: true, labels: { x: 'y' } }, recordsMap(a, b));
    const c = recordChange(n, { ...a, phase: 'Draining' }, T0 + SEC);
    assert.deepEqual(Object.keys(c), ['annotations']);
    const after = recordsOf(apply(n, c));
    assert.equal(after['itn-1']?.phase, 'Draining');
    assert.deepEqual(after['rb'], b);
  });
});
