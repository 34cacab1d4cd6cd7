import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startReceiver, type Receiver } from '../observability/receivers.js';
import { startHarness, waitUntil, type Harness } from './harness.js';

describe('dry run and notifications', () => {
  let h: Harness;
  let receiver: Receiver;
  before(async () => {
    h = await startHarness();
    receiver = await startReceiver('ok');
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it('sends no webhook and writes no Kubernetes event in dry run', async () => {
    const { world, clock } = h;
    const agent = await world.startAgent('node-a', { DRY_RUN: 'true', WEBHOOK_URL: receiver.url, EMIT_KUBERNETES_EVENTS: 'true' });
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(
      clock,
      async () => /node_action="cordon-and-drain",node_status="success"\} 1/.test(await agent.metrics.registry.getSingleMetricAsString('actions_total')),
      { what: 'the (virtual) drain ran' },
    );
    await clock.sleep(30_000);
    assert.equal(receiver.requests.length, 0, 'no webhook POST');
    assert.equal(world.kube.list('events').length, 0, 'no Kubernetes event');
  });
});
