import type { ScenarioAction } from './scenario.js';
import type { SimWorld } from './world.js';

export type WorldAction = Omit<ScenarioAction, 'at'>;

/**
 * Things that happen to the world: notices posted to a node's IMDS, reboots, outages, agents
 * killed and restarted. Used by scenarios and by the control endpoint of `simulate serve`.
 * Returns a one-line description for the timeline.
 */
export async function applyAction(
  world: SimWorld,
  a: WorldAction,
  agentEnv: Record<string, string>,
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
      void agentEnv;
      await startAgent(a.node);
      return 'agent started';
    case 'clear-notices':
      imds.setSpotInterruption(null);
      imds.setRebalanceRecommendation(null);
      imds.setTargetLifecycleState(null);
      return 'IMDS notices cleared';
  }
}
