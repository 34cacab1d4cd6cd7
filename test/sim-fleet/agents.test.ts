import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { startFleetWorld, spotGroup, waitUntil, type FleetWorld } from './helpers.js';

describe('sim fleet: the agent as a DaemonSet', () => {
  let t: FleetWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('runAgentsOnAllNodes runs an agent on every node, including one that joins later, and none on a terminated one', async () => {
    t = await startFleetWorld([spotGroup({ desiredCapacity: 2 })]);
    const { world, clock, client } = t;
    const env = { ENABLE_SPOT_INTERRUPTION_DRAINING: 'true' };
    const first = await world.runAgentsOnAllNodes(env);
    assert.equal(first.length, 2);
    await Promise.all(first.map((a) => a.ready));
    for (const n of world.nodeNames()) assert.ok(world.agent(n), `agent on ${n}`);

    const envOfFirst = world.agentEnv(world.nodeNames()[0]!, env);
    assert.equal(envOfFirst.AWS_ENDPOINT, world.autoscaling!.url);
    assert.equal(envOfFirst.AWS_REGION, 'us-east-1');

    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 3, HonorCooldown: false }));
    await waitUntil(clock, () => world.groupNodes('spot-asg').length === 3, { what: 'a 3rd node' });
    const late = world.groupNodes('spot-asg')[2]!;
    await waitUntil(clock, () => Boolean(world.agent(late)), { what: `an agent on ${late}` });
    const md = await world.agent(late)!.ready;
    assert.equal(md?.instanceId, world.node(late).instanceId, 'the agent read its own instance id from its IMDS');

    // The instance goes: so does its agent.
    const agent = world.agent(late)!;
    world.autoscaling!.terminateInstance(world.node(late).instanceId, { decrement: true });
    await waitUntil(clock, () => !world.nodeNames().includes(late), { what: `${late} gone` });
    await agent.done;
  });

  it('skip leaves a node without an agent', async () => {
    t = await startFleetWorld([spotGroup({ desiredCapacity: 2 })]);
    const { world } = t;
    const [a, b] = world.nodeNames();
    const started = await world.runAgentsOnAllNodes({ ENABLE_SPOT_INTERRUPTION_DRAINING: 'true' }, {}, { skip: (n) => n === b });
    assert.equal(started.length, 1);
    assert.ok(world.agent(a!));
    assert.equal(world.agent(b!), undefined);
  });
});
