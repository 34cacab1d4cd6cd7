/**
 * Kubernetes events sink (EMIT_KUBERNETES_EVENTS): every notification becomes a core/v1 Event on
 * the Node, in namespace `default` (where kubectl and NTH put events about cluster-scoped objects),
 * with NTH's reasons and NTH's annotations (instance metadata from IMDS, plus
 * KUBERNETES_EVENTS_EXTRA_ANNOTATIONS, which win on collision). A repeated identical event is
 * aggregated as client-go's recorder does: count + lastTimestamp on the existing Event.
 * Delivery is in the background with a timeout and bounded retries; a failure is logged and
 * counted, never raised to the workflow. Dry-run writes no events.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { InstanceMetadata } from '../imds/notices.js';
import { kubeErrorMessage, kubeStatus } from '../kube/errors.js';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { DeliveryQueue, PermanentDeliveryError } from './delivery-queue.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Notification, Notifier } from './notifier.js';

export const EVENTS_NAMESPACE = 'default';
export const EVENT_SOURCE = 'spot-guard';
/** Spot Guard's own annotations on its events (beside NTH's). */
export const EVENT_ID_ANNOTATION = 'spot-guard.io/event-id';
export const GROUP_ANNOTATION = 'spot-guard.io/auto-scaling-group';

/** The two calls the sink makes; CoreV1Api in production, a fake in unit tests. */
export interface EventsPort {
  create(namespace: string, body: CoreV1Event): Promise<unknown>;
  patch(namespace: string, name: string, body: Record<string, unknown>): Promise<unknown>;
}

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function coreV1EventsPort(kubeConfig: KubeConfig): EventsPort {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    create: (namespace, body) => core.createNamespacedEvent({ namespace, body }),
    patch: (namespace, name, body) => core.patchNamespacedEvent({ namespace, name, body }, MERGE_PATCH),
  };
}

/** NTH's default event annotations (pkg/observability/k8s-events.go, IMDS mode). */
export function nthEventAnnotations(md: InstanceMetadata | undefined): Record<string, string> {
  return {
    'account-id': md?.accountId ?? '',
    'availability-zone': md?.availabilityZone ?? '',
    'instance-id': md?.instanceId ?? '',
    'instance-life-cycle': md?.lifeCycle ?? '',
    'instance-type': md?.instanceType ?? '',
    'local-hostname': md?.localHostname ?? '',
    'local-ipv4': md?.privateIp ?? '',
    'public-hostname': md?.publicHostname ?? '',
    'public-ipv4': md?.publicIp ?? '',
    region: md?.region ?? '',
  };
}

export interface KubernetesEventsNotifierOptions {
  nodeName: string;
  port: EventsPort;
  /** The Node's uid, so `kubectl describe node` lists the events; looked up once. */
  nodeUid: () => Promise<string>;
  metadata: () => InstanceMetadata | undefined;
  extraAnnotations: Record<string, string>;
  dryRun: boolean;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Per API call; default 10 s. */
  timeoutMs?: number;
  maxAttempts?: number;
}

interface Seen {
  name: string;
  count: number;
}

export class KubernetesEventsNotifier implements Notifier {
  private readonly queue: DeliveryQueue<Notification>;
  private readonly seen = new Map<string, Seen>();
  private uid: string | undefined;
  private seq = 0;

  constructor(private readonly opts: KubernetesEventsNotifierOptions) {
    this.queue = new DeliveryQueue<Notification>({
      clock: opts.clock,
      maxAttempts: opts.maxAttempts ?? 3,
      attemptTimeoutMs: opts.timeoutMs ?? 10_000,
      backoff: { baseMs: 1_000, maxMs: 10_000, jitter: 0.2 },
      maxQueued: 200,
      deliver: (n) => this.emit(n),
      onResult: (n, result, err) => {
        this.opts.metrics.kubernetesEvents.inc({ reason: n.reason, result: result === 'delivered' ? 'emitted' : result });
        if (result !== 'delivered') {
          this.log(n).warn({ err: err === undefined ? undefined : errorMessage(err) }, `Kubernetes event ${n.reason} ${result}`);
        }
      },
    });
  }

  notify(n: Notification): void {
    if (this.opts.dryRun) {
      this.opts.metrics.kubernetesEvents.inc({ reason: n.reason, result: 'dry_run' });
      this.log(n).info(`dry-run: would have emitted Kubernetes event ${n.type} ${n.reason}: ${n.message}`);
      return;
    }
    this.queue.push(n);
  }

  async flush(boundMs: number): Promise<void> {
    await this.queue.flush(boundMs);
    this.queue.close();
  }

  close(): void {
    this.queue.close();
  }

  private log(n: Notification): Logger {
    return this.opts.logger.child({
      component: 'events',
      ...(n.event ? { eventId: n.event.id, phase: n.event.phase } : {}),
      ...(n.group ? { group: n.group } : {}),
    });
  }

  private annotations(n: Notification): Record<string, string> {
    return {
      ...nthEventAnnotations(this.opts.metadata()),
      ...(n.event ? { [EVENT_ID_ANNOTATION]: n.event.id } : {}),
      ...(n.group ? { [GROUP_ANNOTATION]: n.group } : {}),
      ...this.opts.extraAnnotations,
    };
  }

  private async emit(n: Notification): Promise<void> {
    const { port, nodeName } = this.opts;
    const key = `${n.type}\u0000${n.reason}\u0000${n.message}`;
    const at = new Date(n.at);
    try {
      const prev = this.seen.get(key);
      if (prev) {
        try {
          await port.patch(EVENTS_NAMESPACE, prev.name, { count: prev.count + 1, lastTimestamp: at.toISOString() });
          prev.count++;
          return;
        } catch (err) {
          if (kubeStatus(err) !== 404) throw err;
          this.seen.delete(key); // expired or deleted: start a new one
        }
      }
      this.uid ??= await this.opts.nodeUid().catch(() => undefined);
      // client-go's naming: <object name>.<unix nanos in hex>
      const name = `${nodeName}.${(BigInt(n.at) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`;
      await port.create(EVENTS_NAMESPACE, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: EVENTS_NAMESPACE, annotations: this.annotations(n) },
        involvedObject: { apiVersion: 'v1', kind: 'Node', name: nodeName, ...(this.uid ? { uid: this.uid } : {}) },
        reason: n.reason,
        message: n.message,
        type: n.type,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
        source: { component: EVENT_SOURCE, host: nodeName },
        reportingComponent: EVENT_SOURCE,
        reportingInstance: nodeName,
      });
      if (this.seen.size > 500) this.seen.clear();
      this.seen.set(key, { name, count: 1 });
    } catch (err) {
      const status = kubeStatus(err);
      const message = `cannot write event ${n.reason}: ${kubeErrorMessage(err)}`;
      // 4xx other than 429 (forbidden by RBAC, invalid) will not pass on a retry.
      if (status >= 400 && status < 500 && status !== 429) throw new PermanentDeliveryError(message, { cause: err });
      throw new Error(message, { cause: err });
    }
  }
}
