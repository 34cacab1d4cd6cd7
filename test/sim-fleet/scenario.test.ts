import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/observability/logger.js';
import { runScenario } from '../../src/sim/runner.js';
import { ScenarioError, parseScenario, type ScenarioInput } from '../../src/sim/scenario.js';

const fleet: ScenarioInput = {
  name: 'fleet',
  speed: 100,
  daemonSets: ['kube-proxy'],
  groups: [
    { name: 'spot-asg', capacityType: 'spot', availabilityZones: ['us-east-1a', 'us-east-1b'], desiredCapacity: 3, maxSize: 6, joinDelay: '20s' },
    { name: 'od-asg', capacityType: 'on-demand', availabilityZones: ['us-east-1a', 'us-east-1b'], desiredCapacity: 0 },
  ],
  capacity: { spot: { 'us-east-1a': 0 } },
  autoscaling: { launchDelay: '30s', terminateDelay: '10s' },
  workloads: [{ name: 'web', replicas: 4, cpu: '250m', memory: '256Mi', shutdownSeconds: 1 }],
  agent: { ENABLE_SPOT_INTERRUPTION_DRAINING: 'true' },
  actions: [
    { at: 5, do: 'set-spot-capacity', az: 'us-east-1b', instances: 'unlimited' },
    { at: 10, do: 'spot-reclaim', group: 'spot-asg', notice: '30s' },
  ],
  timeout: 900,
};

function parseError(input: unknown): string {
  try {
    parseScenario(input);
  } catch (err) {
    assert.ok(err instanceof ScenarioError);
    return err.message;
  }
  assert.fail('expected the scenario to be rejected');
}

describe('scenarios with Auto Scaling groups', () => {
  it('parses groups, capacity and fleet actions with defaults and durations', () => {
    const s = parseScenario(fleet);
    const [spot] = s.groups;
    assert.equal(spot?.joinDelay, 20_000);
    assert.equal(spot?.instanceType, 'm5.large');
    assert.equal(spot?.minSize, 0);
    assert.equal(s.groups[1]?.joinDelay, 30_000);
    assert.deepEqual(s.capacity?.spot, { 'us-east-1a': 0 });
    assert.equal(s.autoscaling?.launchDelay, 30_000);
    assert.equal(s.actions[0]?.instances, Infinity);
    assert.equal(s.actions[1]?.notice, 30_000);
    assert.deepEqual(s.nodes, []);
  });

  it('rejects what would silently do nothing or the wrong thing', () => {
    assert.match(parseError({ ...fleet, groups: [], nodes: [] }), /needs nodes or groups/);
    assert.match(parseError({ ...fleet, actions: [{ at: 1, do: 'rebalance-group', group: 'nope' }] }), /unknown groups: nope/);
    assert.match(parseError({ ...fleet, actions: [{ at: 1, do: 'rebalance-group' }] }), /rebalance-group: needs group/);
    assert.match(parseError({ ...fleet, actions: [{ at: 1, do: 'set-spot-capacity', az: 'us-east-1a' }] }), /needs instances/);
    assert.match(parseError({ ...fleet, actions: [{ at: 1, do: 'set-spot-capacity', az: 'eu-west-1a', instances: 1 }] }), /used by no group: eu-west-1a/);
    assert.match(parseError({ ...fleet, actions: [{ at: 1, do: 'spot-reclaim' }] }), /needs either node or group/);
    assert.match(parseError({ ...fleet, actions: [{ at: 1, do: 'spot-itn', group: 'spot-asg' }] }), /takes node, not group/);
    assert.match(parseError({ ...fleet, groups: [{ name: 'g', capacityType: 'spot', desiredCapacity: 5, maxSize: 2 }] }), /minSize <= desiredCapacity <= maxSize/);
    assert.match(parseError({ ...fleet, groups: [{ name: 'g', capacityType: 'spot', desiredCapcity: 1 }] }), /desiredCapcity/);
    // Static nodes keep working as before.
    assert.equal(parseScenario({ nodes: [{ name: 'a' }], actions: [{ at: 1, node: 'a', do: 'spot-itn' }] }).nodes.length, 1);
  });

  it('runs: spot reclaims one node of the group, the group replaces it in the AZ with capacity, agents run on the new node', async () => {
    const lines: string[] = [];
    const summary = await runScenario(parseScenario(fleet), {
      agentLogger: silentLogger(),
      worldLogger: silentLogger(),
      print: (l) => lines.push(l),
    });
    const text = lines.join('\n');
    assert.ok(summary.settled, `settled:\n${text}`);
    assert.deepEqual(summary.groups['spot-asg'], { desired: 3, inService: 3, readyNodes: 3 });
    assert.deepEqual(summary.groups['od-asg'], { desired: 0, inService: 0, readyNodes: 0 });
    assert.equal(summary.podsPendingAtEnd, 0);
    assert.match(text, /spot reclaim on 1 node\(s\) of spot-asg/);
    assert.match(text, /launching i-[0-9a-f]+ in us-east-1b/);
    assert.match(text, /node Ready \(spot-asg/);
    assert.match(text, /node removed from the cluster/);
    const reclaimed = Object.entries(summary.nodes).find(([, n]) => n.noticeToCordonSeconds !== undefined);
    assert.ok(reclaimed, `the reclaimed node was cordoned by its agent:\n${text}`);
  });
});
