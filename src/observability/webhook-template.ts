/**
 * What a webhook template sees: NTH's variables (its `combinedDrainData`: the node's IMDS metadata
 * plus the interruption event, with NTH's Go field names) and Spot Guard's additions.
 */
import type { InstanceMetadata } from '../imds/notices.js';
import { GoTime, compileTemplate, type CompiledTemplate, type TemplateSchema, type TemplateValue } from './go-template.js';
import type { Notification } from './notifier.js';

export const NTH_DEFAULT_WEBHOOK_TEMPLATE =
  '{"text":"[NTH][Instance Interruption] EventID: {{ .EventID }} - Kind: {{ .Kind }} - Instance: {{ .InstanceID }} - Node: {{ .NodeName }} - Description: {{ .Description }} - Start Time: {{ .StartTime }}"}';

export const WEBHOOK_SCHEMA: TemplateSchema = {
  // NTH: ec2metadata.NodeMetadata
  AccountId: 'string',
  InstanceID: 'string',
  InstanceLifeCycle: 'string',
  InstanceType: 'string',
  PublicHostname: 'string',
  PublicIP: 'string',
  LocalHostname: 'string',
  LocalIP: 'string',
  AvailabilityZone: 'string',
  Region: 'string',
  // NTH: monitor.InterruptionEvent
  EventID: 'string',
  Kind: 'string',
  Monitor: 'string',
  Description: 'string',
  State: 'string',
  AutoScalingGroupName: 'string',
  NodeName: 'string',
  NodeLabels: 'map',
  Pods: 'list',
  ProviderID: 'string',
  IsManaged: 'bool',
  StartTime: 'time',
  EndTime: 'time',
  NodeProcessed: 'bool',
  InProgress: 'bool',
  // Spot Guard
  Reason: 'string',
  Message: 'string',
  Type: 'string',
  Group: 'string',
  Phase: 'string',
  Time: 'time',
};

/** NTH's monitor names, by event kind. */
const MONITOR_FOR_KIND: Record<string, string> = {
  SPOT_ITN: 'SPOT_ITN_MONITOR',
  REBALANCE_RECOMMENDATION: 'REBALANCE_RECOMMENDATION_MONITOR',
  SCHEDULED_EVENT: 'SCHEDULED_EVENT_MONITOR',
  ASG_LIFECYCLE: 'ASG_LIFECYCLE_MONITOR',
};

/** Compiles a webhook template against WEBHOOK_SCHEMA; throws TemplateError with a line number. */
export function compileWebhookTemplate(src: string): CompiledTemplate {
  return compileTemplate(src, WEBHOOK_SCHEMA);
}

export interface WebhookContext {
  metadata: InstanceMetadata | undefined;
  /** Pod names on the node before the drain (only fetched when the template uses .Pods). */
  pods?: string[];
  /** The Node's labels (only fetched when the template uses .NodeLabels). */
  nodeLabels?: Record<string, string>;
}

/**
 * The template's data for one notification. NTH rendered only its own actions; for Spot Guard's
 * steps `.Description` is "<Reason>: <message>", so NTH's default template says what happened.
 */
export function webhookData(n: Notification, ctx: WebhookContext): Record<string, TemplateValue> {
  const md = ctx.metadata;
  const ev = n.event;
  const spotGuard = n.reason.startsWith('SpotGuard');
  const startMs = ev ? Date.parse(ev.startTime) : NaN;
  return {
    AccountId: md?.accountId ?? '',
    InstanceID: md?.instanceId ?? '',
    InstanceLifeCycle: md?.lifeCycle ?? '',
    InstanceType: md?.instanceType ?? '',
    PublicHostname: md?.publicHostname ?? '',
    PublicIP: md?.publicIp ?? '',
    LocalHostname: md?.localHostname ?? '',
    LocalIP: md?.privateIp ?? '',
    AvailabilityZone: md?.availabilityZone ?? '',
    Region: md?.region ?? '',
    EventID: ev?.id ?? '',
    Kind: ev?.kind ?? '',
    Monitor: ev ? (MONITOR_FOR_KIND[ev.kind] ?? '') : '',
    Description: spotGuard ? `${n.reason}: ${n.message}` : (ev?.description ?? n.message),
    State: ev?.kind === 'SCHEDULED_EVENT' ? (ev.phase === 'Canceled' ? 'canceled' : 'active') : '',
    AutoScalingGroupName: n.group ?? '',
    NodeName: n.nodeName,
    NodeLabels: ctx.nodeLabels ?? {},
    Pods: ctx.pods ?? [],
    ProviderID: md ? `aws:///${md.availabilityZone}/${md.instanceId}` : '',
    IsManaged: false,
    StartTime: Number.isFinite(startMs) ? new GoTime(startMs) : GoTime.zero(),
    EndTime: GoTime.zero(),
    NodeProcessed: n.reason === 'CordonAndDrain' || n.reason === 'Cordon',
    InProgress: false,
    Reason: n.reason,
    Message: n.message,
    Type: n.type,
    Group: n.group ?? '',
    Phase: ev?.phase ?? '',
    Time: new GoTime(n.at),
  };
}
