/**
 * What one simulated instance's metadata says right now: the instance's identity and the notices
 * the scenario has set, rendered as EC2 renders them, as a tree of paths under /latest/.
 */
import type { Clock } from '../../shared/clock.js';
import { formatAwsEventDate, formatNoticeTime } from './formats.js';

export interface SimImdsInstance {
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  region: string;
  accountId: string;
  privateIp: string;
  localHostname: string;
  lifeCycle: 'spot' | 'on-demand';
  amiId?: string;
  publicHostname?: string;
  publicIp?: string;
}

export interface SimScheduledEvent {
  code: 'instance-reboot' | 'system-reboot' | 'system-maintenance' | 'instance-retirement' | 'instance-stop';
  description: string;
  state: 'active' | 'completed' | 'canceled';
  eventId: string;
  notBefore: Date;
  notAfter?: Date;
  notBeforeDeadline?: Date;
}

export interface SimSpotInterruption {
  action?: 'terminate' | 'stop' | 'hibernate';
  time?: Date;
}

export interface SimRebalanceRecommendation {
  noticeTime?: Date;
}

/** EC2 gives two minutes' warning before a spot interruption. */
export const SPOT_WARNING_MS = 2 * 60_000;

export class SimMetadata {
  private spot: { action: NonNullable<SimSpotInterruption['action']>; time: Date | null } | null = null;
  private rebalance: { noticeTime: Date | null } | null = null;
  private events: SimScheduledEvent[] = [];
  private targetLifecycleState: string | null = null;
  private readonly pendingTime: Date;

  constructor(
    readonly instance: SimImdsInstance,
    private readonly clock: Clock,
    /** AEMM behaviour: times not fixed by the scenario are recomputed on every request. */
    private readonly aemmDynamicTimes: boolean,
  ) {
    this.pendingTime = new Date(clock.now());
  }

  setSpotInterruption(n: SimSpotInterruption | null): void {
    if (n === null) {
      this.spot = null;
      return;
    }
    const time = n.time ?? (this.aemmDynamicTimes ? null : new Date(this.clock.now() + SPOT_WARNING_MS));
    this.spot = { action: n.action ?? 'terminate', time };
  }

  setRebalanceRecommendation(n: SimRebalanceRecommendation | null): void {
    if (n === null) {
      this.rebalance = null;
      return;
    }
    this.rebalance = { noticeTime: n.noticeTime ?? (this.aemmDynamicTimes ? null : new Date(this.clock.now())) };
  }

  setScheduledEvents(events: SimScheduledEvent[]): void {
    this.events = events.map((e) => ({ ...e }));
  }

  updateScheduledEvent(eventId: string, patch: Partial<Omit<SimScheduledEvent, 'eventId'>>): void {
    const event = this.events.find((e) => e.eventId === eventId);
    if (!event) throw new Error(`no scheduled event ${eventId}`);
    Object.assign(event, patch);
  }

  setTargetLifecycleState(state: string | null): void {
    this.targetLifecycleState = state;
  }

  /** Text of a leaf, keyed by path relative to /latest/ (e.g. "meta-data/instance-id"). Built per request. */
  leaves(): Map<string, string> {
    const i = this.instance;
    const now = this.clock.now();
    const leaves = new Map<string, string>([
      ['meta-data/ami-id', i.amiId ?? 'ami-0123456789abcdef0'],
      ['meta-data/hostname', i.localHostname],
      ['meta-data/instance-id', i.instanceId],
      ['meta-data/instance-life-cycle', i.lifeCycle],
      ['meta-data/instance-type', i.instanceType],
      ['meta-data/local-hostname', i.localHostname],
      ['meta-data/local-ipv4', i.privateIp],
      ['meta-data/placement/availability-zone', i.availabilityZone],
      ['meta-data/placement/region', i.region],
      ['meta-data/events/maintenance/scheduled', this.renderScheduledEvents()],
      // Past events: the agent does not read them, but EC2 lists the path.
      ['meta-data/events/maintenance/history', '[]'],
      ['dynamic/instance-identity/document', this.renderIdentityDocument()],
    ]);
    if (i.publicHostname) leaves.set('meta-data/public-hostname', i.publicHostname);
    if (i.publicIp) leaves.set('meta-data/public-ipv4', i.publicIp);
    if (this.spot) {
      const time = formatNoticeTime(this.spot.time ?? new Date(now + SPOT_WARNING_MS));
      leaves.set('meta-data/spot/instance-action', JSON.stringify({ action: this.spot.action, time }));
      leaves.set('meta-data/spot/termination-time', time);
    }
    if (this.rebalance) {
      const noticeTime = formatNoticeTime(this.rebalance.noticeTime ?? new Date(now));
      leaves.set('meta-data/events/recommendations/rebalance', JSON.stringify({ noticeTime }));
    }
    if (this.targetLifecycleState !== null) {
      leaves.set('meta-data/autoscaling/target-lifecycle-state', this.targetLifecycleState);
    }
    return leaves;
  }

  /** EC2's JSON array, [] when there are no events. */
  private renderScheduledEvents(): string {
    const rendered = this.events.map((e) => {
      const out: Record<string, string> = { NotBefore: formatAwsEventDate(e.notBefore), Code: e.code, Description: e.description, EventId: e.eventId };
      if (e.notAfter) out.NotAfter = formatAwsEventDate(e.notAfter);
      if (e.notBeforeDeadline) out.NotBeforeDeadline = formatAwsEventDate(e.notBeforeDeadline);
      out.State = e.state;
      return out;
    });
    return JSON.stringify(rendered, null, 2);
  }

  private renderIdentityDocument(): string {
    const i = this.instance;
    const doc = {
      accountId: i.accountId,
      architecture: 'x86_64',
      availabilityZone: i.availabilityZone,
      billingProducts: null,
      devpayProductCodes: null,
      marketplaceProductCodes: null,
      imageId: i.amiId ?? 'ami-0123456789abcdef0',
      instanceId: i.instanceId,
      instanceType: i.instanceType,
      kernelId: null,
      pendingTime: formatNoticeTime(this.pendingTime),
      privateIp: i.privateIp,
      ramdiskId: null,
      region: i.region,
      version: '2017-09-30',
    };
    return JSON.stringify(doc, null, 2);
  }
}

/**
 * The answer for a path relative to /latest/: a leaf's text, a directory listing (children one per
 * line, sub-directories with a trailing slash, as EC2 lists them), or null when the path is absent.
 */
export function lookup(leaves: Map<string, string>, relPath: string): string | null {
  const leaf = leaves.get(relPath.replace(/\/$/, ''));
  if (leaf !== undefined && !relPath.endsWith('/')) return leaf;
  const prefix = relPath === '' || relPath.endsWith('/') ? relPath : `${relPath}/`;
  const children = new Set<string>();
  for (const key of leaves.keys()) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    children.add(slash < 0 ? rest : rest.slice(0, slash + 1));
  }
  if (children.size === 0) return null;
  return [...children].sort().join('\n');
}
