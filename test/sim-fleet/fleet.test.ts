import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand, TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { ASG_LABEL, type FleetEvent } from '../../src/sim/fleet.js';
import {
  AZS,
  instanceIdOf,
  isReady,
  nodes,
  runningPods,
  spotGroup,
  startFleetWorld,
  waitUntil,
  type FleetWorld,
  type NodeView,
} from './helpers.js';

async function imdsText(url: string, path: string): Promise<string> {
  const res = await fetch(`${url}/latest/meta-data/${path}`);
  assert.equal(res.status, 200, `IMDS ${path}`);
  return res.text();
}

describe('sim fleet: Auto Scaling instances become Kubernetes nodes', () => {
  let t: FleetWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('a group of 3 is 3 Ready nodes with EKS names, providerIDs, labels and their own IMDS', async () => {
    t = await startFleetWorld();
    const { world } = t;
    const instances = world.autoscaling!.instances('spot-asg');
    assert.equal(instances.length, 3);
    const all = nodes(world);
    assert.equal(all.length, 3);
    for (const n of all) {
      assert.ok(isReady(n), `${n.metadata.name} Ready`);
      assert.match(n.metadata.name, /^ip-10-0-\d+-\d+\.ec2\.internal$/);
      const inst = instances.find((i) => i.instanceId === instanceIdOf(n));
      assert.ok(inst, `${n.metadata.name} is an instance of the group`);
      assert.equal(n.spec?.providerID, `aws:///${inst.az}/${inst.instanceId}`);
      assert.deepEqual(
        {
          type: n.metadata.labels?.['node.kubernetes.io/instance-type'],
          zone: n.metadata.labels?.['topology.kubernetes.io/zone'],
          capacityType: n.metadata.labels?.['eks.amazonaws.com/capacityType'],
          lifecycle: n.metadata.labels?.['node.kubernetes.io/lifecycle'],
          asg: n.metadata.labels?.[ASG_LABEL],
          team: n.metadata.labels?.team,
        },
        { type: 'm5.large', zone: inst.az, capacityType: 'SPOT', lifecycle: 'spot', asg: 'spot-asg', team: 'platform' },
      );
      assert.equal(n.spec?.taints, undefined, 'no not-ready taint');
      const imds = world.imds(n.metadata.name);
      assert.equal(await imdsText(imds.url, 'instance-id'), inst.instanceId);
      assert.equal(await imdsText(imds.url, 'instance-life-cycle'), 'spot');
      assert.equal(await imdsText(imds.url, 'placement/availability-zone'), inst.az);
      assert.equal(await imdsText(imds.url, 'local-hostname'), n.metadata.name);
    }
    assert.deepEqual(new Set(instances.map((i) => i.az)), new Set(AZS), 'spread over the AZs');
    assert.deepEqual(world.groupNodes('spot-asg').sort(), all.map((n) => n.metadata.name).sort());
    assert.ok(world.settled());
  });

  it('an on-demand group labels its nodes ON_DEMAND / on-demand', async () => {
    t = await startFleetWorld([spotGroup({ name: 'od-asg', capacityType: 'on-demand', desiredCapacity: 1, nodeLabels: {} })]);
    const [n] = nodes(t.world);
    assert.ok(n);
    assert.equal(n.metadata.labels?.['eks.amazonaws.com/capacityType'], 'ON_DEMAND');
    assert.equal(n.metadata.labels?.['node.kubernetes.io/lifecycle'], 'on-demand');
    assert.equal(await imdsText(t.world.imds(n.metadata.name).url, 'instance-life-cycle'), 'on-demand');
  });

  it('desired +1 through the AWS SDK: a 4th node joins NotReady, turns Ready, and has its own IMDS', async () => {
    t = await startFleetWorld();
    const { world, clock, client } = t;
    world.addDaemonSet('kube-proxy');
    const before = new Set(nodes(world).map((n) => n.metadata.name));
    const added: NodeView[] = [];
    const unsubscribe = world.kube.onChange((ev) => {
      if (ev.resource === 'nodes' && ev.type === 'ADDED') added.push(structuredClone(ev.object) as unknown as NodeView);
    });
    const events: FleetEvent[] = [];
    world.onFleetEvent((ev) => events.push(ev));

    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 4, HonorCooldown: false }));
    await waitUntil(clock, () => added.length === 1, { what: 'a 4th node registered' });
    const joined = added[0]!;
    assert.equal(isReady(joined), false, 'registers NotReady');
    assert.deepEqual(joined.spec?.taints, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }]);
    const name = joined.metadata.name;
    assert.ok(!before.has(name));

    await waitUntil(clock, () => world.nodeReady(name), { what: 'the 4th node Ready' });
    const now = world.kube.get<NodeView>('nodes', undefined, name)!;
    assert.equal(now.spec?.taints, undefined, 'not-ready taint removed');
    const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['spot-asg'] }));
    const inService = out.AutoScalingGroups?.[0]?.Instances?.map((i) => i.InstanceId) ?? [];
    const id = instanceIdOf(now);
    assert.ok(id && inService.includes(id), 'the node is one of the group\'s instances');
    assert.equal(await imdsText(world.imds(name).url, 'instance-id'), id);
    assert.ok(
      world.kube.get('pods', 'kube-system', `kube-proxy-${name}`),
      'the DaemonSet got a pod on the new node',
    );
    assert.deepEqual(
      events.filter((e) => e.instanceId === id).map((e) => e.type),
      ['launched', 'joined', 'ready'],
    );
    await waitUntil(clock, () => world.settled(), { what: 'fleet settled' });
    unsubscribe();
  });

  it('a terminated instance: its node goes, its pods are recreated and run on the other nodes', async () => {
    t = await startFleetWorld();
    const { world, clock, client } = t;
    world.addWorkload({ name: 'web', replicas: 6, cpu: '250m', memory: '256Mi' });
    await waitUntil(clock, () => runningPods(world).length === 6, { what: 'web running' });
    const victimNode = world.groupNodes('spot-asg')[0]!;
    const victimId = world.node(victimNode).instanceId;
    const imdsUrl = world.imds(victimNode).url;
    const podsOnVictim = runningPods(world)
      .filter((p) => p.spec?.nodeName === victimNode)
      .map((p) => p.metadata.name);
    assert.ok(podsOnVictim.length > 0, 'the victim runs some web pods');

    // Decrement: the group shrinks to 2 and does not replace it.
    await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victimId, ShouldDecrementDesiredCapacity: true }));
    await waitUntil(clock, () => !world.kube.get('nodes', undefined, victimNode), { what: 'the victim node deleted' });
    assert.ok(!world.nodeNames().includes(victimNode));
    await assert.rejects(fetch(`${imdsUrl}/latest/meta-data/instance-id`), 'its IMDS is gone');
    await waitUntil(
      clock,
      () => {
        const running = runningPods(world).filter((p) => p.metadata.namespace === 'default');
        return running.length === 6 && running.every((p) => p.spec?.nodeName && p.spec.nodeName !== victimNode);
      },
      { what: 'web pods recreated and running elsewhere' },
    );
    const names = new Set(runningPods(world).map((p) => p.metadata.name));
    for (const p of podsOnVictim) assert.ok(!names.has(p), `${p} was replaced by a new pod`);
    assert.equal(nodes(world).length, 2);
    assert.equal(world.autoscaling!.group('spot-asg').desiredCapacity, 2);
  });

  it('a spot-pool-exhausted launch leaves no node', async () => {
    t = await startFleetWorld();
    const { world, clock, client } = t;
    const asg = world.autoscaling!;
    for (const az of AZS) asg.setSpotCapacity(az, 0);
    const launched: FleetEvent[] = [];
    world.onFleetEvent((ev) => launched.push(ev));
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 4, HonorCooldown: false }));
    await waitUntil(clock, () => asg.activities('spot-asg').some((a) => a.statusCode === 'Failed'), { what: 'a failed launch' });
    // Let the retry interval pass once more: still nothing.
    await clock.sleep(90_000);
    assert.equal(nodes(world).length, 3);
    assert.equal(launched.length, 0, "no instance launched");
    assert.equal(asg.instances('spot-asg').length, 3);

    // Capacity comes back: the launch goes through and a node joins.
    asg.setSpotCapacity('us-east-1b', 1);
    await waitUntil(clock, () => nodes(world).filter(isReady).length === 4, { what: 'a 4th Ready node once capacity is back' });
    assert.deepEqual(
      launched.map((e) => `${e.type} ${e.az}`),
      ['launched us-east-1b', 'joined us-east-1b', 'ready us-east-1b'],
    );
  });

  it('spot reclaim: interruption notice first, then the instance goes and the group replaces it', async () => {
    t = await startFleetWorld();
    const { world, clock } = t;
    const victim = world.groupNodes('spot-asg')[1]!;
    const victimId = world.node(victim).instanceId;
    world.reclaimSpotInstance(victim, 20_000);
    const itn = JSON.parse(await imdsText(world.imds(victim).url, 'spot/instance-action')) as { action: string };
    assert.equal(itn.action, 'terminate');
    await waitUntil(clock, () => !world.nodeNames().includes(victim), { what: 'the reclaimed node gone' });
    assert.ok(!world.autoscaling!.instances('spot-asg').some((i) => i.instanceId === victimId));
    await waitUntil(clock, () => world.groupNodes('spot-asg').filter((n) => world.nodeReady(n)).length === 3, {
      what: 'a replacement node Ready',
    });
    assert.equal(world.autoscaling!.group('spot-asg').desiredCapacity, 3);
  });
});
