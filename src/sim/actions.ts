import type { ScenarioAction } from './scenario.js';
import type { SimWorld } from './world.js';

export type WorldAction = Omit<ScenarioAction, 'at'>;

/** Something that happened to one node, now or later (staggered and delayed effects report when they happen). */
export type ActionReport = (node: string, text: string) => void;

/**
 * Things that happen to the world: notices posted to a node's IMDS, reboots, outages, agents
 * killed and restarted, spot capacity coming and going, spot reclaiming instances. Used by scenarios
 * and by the control endpoint of `simulate serve`. Returns a one-line description for the timeline;
 * actions aimed at nodes of a group also `report` each node as its turn comes.
 */
export async function applyAction(
  world: SimWorld,
  a: WorldAction,
  startAgent: (node: string) => Promise<void>,
  report: ActionReport = () => {},
): Promise<string> {
  switch (a.do) {
    case 'set-spot-capacity': {
      if (!world.autoscaling) throw new Error('set-spot-capacity needs Auto Scaling groups');
      if (!a.az || a.instances === undefined) throw new Error('set-spot-capacity needs az and instances');
      world.autoscaling.setSpotCapacity(a.az, a.instances, a.instanceType);
      const n = a.instances === Infinity ? 'unlimited' : String(a.instances);
      return `EC2: spot capacity in ${a.az}${a.instanceType ? ` (${a.instanceType})` : ''}: ${n} more instance(s)`;
    }
    case 'rebalance-group':
      return onGroupNodes(world, a, 'rebalance recommendation', report, (node) => nodeAction(world, { ...a, do: 'rebalance', node }, startAgent));
    case 'spot-reclaim':
      if (a.group) return onGroupNodes(world, a, 'spot reclaim', report, (node) => reclaim(world, node, a.notice));
      return reclaim(world, required(a.node, 'node'), a.notice);
    default:
      return nodeAction(world, { ...a, do: a.do, node: required(a.node, 'node') }, startAgent);
  }
}

type NodeActionKind = Exclude<WorldAction['do'], 'set-spot-capacity' | 'rebalance-group' | 'spot-reclaim'>;

async function nodeAction(
  world: SimWorld,
  a: WorldAction & { node: string; do: NodeActionKind },
  startAgent: (node: string) => Promise<void>,
): Promise<string> {
  const imds = world.imds(a.node);
  const now = world.clock.now();
  switch (a.do) {
    case 'spot-itn': {
      const time = new Date(now + 120_000);
      imds.setSpotInterruption({ action: a.action ?? 'terminate', time });
      return `IMDS: spot interruption notice (${a.action ?? 'terminate'} in 2 min)`;
    }
    case 'rebalance':
      imds.setRebalanceRecommendation({ noticeTime: new Date(now) });
      return 'IMDS: rebalance recommendation';
    case 'scheduled-event': {
      const code = a.code ?? 'system-reboot';
      const eventId = a.eventId ?? `instance-event-${Math.floor(now / 1000).toString(16)}`;
      const notBefore = new Date(now + (a.notBeforeIn ?? 3 * 60_000));
      world.addScheduledEvent(a.node, {
        code,
        eventId,
        state: 'active',
        description: `The instance is scheduled for ${code}`,
        notBefore,
        notAfter: new Date(notBefore.getTime() + 2 * 3600_000),
      });
      return `IMDS: scheduled event ${eventId} (${code}, not before t+${Math.round((notBefore.getTime() - now) / 1000)} s from now)`;
    }
    case 'cancel-scheduled-event': {
      if (!a.eventId) throw new Error('cancel-scheduled-event needs eventId');
      world.setScheduledEventState(a.node, a.eventId, 'canceled');
      return `IMDS: scheduled event ${a.eventId} canceled`;
    }
    case 'asg-terminate':
      imds.setTargetLifecycleState('Terminated');
      return 'IMDS: ASG target lifecycle state → Terminated';
    case 'reboot':
      world.rebootNode(a.node);
      for (const e of world.scheduledEvents(a.node)) if (e.state === 'active') world.setScheduledEventState(a.node, e.eventId, 'completed');
      return 'node rebooted (new boot id; scheduled events completed)';
    case 'imds-down':
      imds.setDown(true);
      return 'IMDS unreachable';
    case 'imds-up':
      imds.setDown(false);
      return 'IMDS reachable again';
    case 'kill-agent':
      await world.agent(a.node)?.kill();
      return 'agent killed';
    case 'start-agent':
      await startAgent(a.node);
      return 'agent started';
    case 'clear-notices':
      imds.setSpotInterruption(null);
      imds.setRebalanceRecommendation(null);
      imds.setTargetLifecycleState(null);
      return 'IMDS notices cleared';
  }
}

function reclaim(world: SimWorld, node: string, noticeMs = 120_000): string {
  world.reclaimSpotInstance(node, noticeMs);
  return `EC2: spot reclaims the instance (interruption notice; instance gone in ${Math.round(noticeMs / 1000)} s)`;
}

/**
 * `count` nodes of a group (default 1), the first now and one more every `stagger`: the group's
 * Ready, schedulable nodes in the order they joined (a node that already got a notice is usually
 * cordoned, so repeated actions move on to fresh nodes).
 */
async function onGroupNodes(
  world: SimWorld,
  a: WorldAction,
  what: string,
  report: ActionReport,
  act: (node: string) => string | Promise<string>,
): Promise<string> {
  const group = required(a.group, 'group');
  const count = a.count ?? 1;
  const stagger = a.stagger ?? 0;
  const chosen = world
    .groupNodes(group)
    .filter((n) => world.nodeReady(n) && !world.kube.get<{ spec?: { unschedulable?: boolean } }>('nodes', undefined, n)?.spec?.unschedulable)
    .slice(0, count);
  const apply = async (node: string) => {
    if (world.nodeNames().includes(node)) report(node, await act(node));
  };
  for (const [i, node] of chosen.entries()) {
    if (i === 0 || stagger === 0) await apply(node);
    else world.later(i * stagger, `${what} on ${node}`, () => apply(node));
  }
  const short = chosen.length < count ? ` (only ${chosen.length} Ready node(s) to choose from)` : '';
  const every = chosen.length > 1 && stagger > 0 ? `, one every ${Math.round(stagger / 1000)} s` : '';
  return `${what} on ${chosen.length} node(s) of ${group}${every}${short}`;
}

function required(v: string | undefined, what: string): string {
  if (!v) throw new Error(`this action needs ${what}`);
  return v;
}
