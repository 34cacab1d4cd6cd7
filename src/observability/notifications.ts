/**
 * Builds the notification sinks the configuration asks for — Kubernetes events
 * (EMIT_KUBERNETES_EVENTS), webhooks (WEBHOOK_URL) — and fans notifications out to them.
 */
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { InstanceMetadata } from '../imds/notices.js';
import type { NodePort, PodPort } from '../kube/types.js';
import type { Clock } from '../shared/clock.js';
import { KubernetesEventsNotifier, coreV1EventsPort, type EventsPort } from './k8s-events.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { fanOut, type Notifier } from './notifier.js';
import { WebhookNotifier, nthWebhookSelection } from './webhook.js';
import { compileWebhookTemplate } from './webhook-template.js';

export interface NotificationSinks {
  notifier: Notifier;
  /** Graceful stop: give queued notifications up to `boundMs` (clock time), then drop the rest. */
  flush(boundMs: number): Promise<void>;
  /** Hard stop. */
  close(): void;
}

export interface NotificationSinksDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  kubeConfig: KubeConfig;
  /** The agent's Kubernetes port (pod names and labels for the template, the Node's uid for events). */
  kube: NodePort & PodPort;
  metadata: () => InstanceMetadata | undefined;
  /** Whether a cordon is the last action for events of this kind (cordon-only handling). */
  cordonIsFinal: (kind: string) => boolean;
  /** Extra sinks (tests, embedding), told about everything too. */
  extra?: Notifier;
  /** Replaces the Kubernetes events API (unit tests). */
  eventsPort?: EventsPort;
}

export function buildNotificationSinks(d: NotificationSinksDeps): NotificationSinks {
  const { config, clock, metrics, kube } = d;
  const sinks: (Notifier & { flush(ms: number): Promise<void>; close(): void })[] = [];
  if (config.emitKubernetesEvents) {
    sinks.push(
      new KubernetesEventsNotifier({
        nodeName: config.nodeName,
        port: d.eventsPort ?? coreV1EventsPort(d.kubeConfig),
        nodeUid: async () => (await kube.getNode(config.nodeName))?.uid ?? '',
        metadata: d.metadata,
        extraAnnotations: config.kubernetesEventsExtraAnnotations,
        dryRun: config.dryRun,
        clock,
        logger: d.logger,
        metrics,
      }),
    );
  }
  if (config.webhookUrl && config.dryRun) {
    // Dry run writes nothing anywhere — a webhook can page a human. The template is still checked.
    compileWebhookTemplate(config.webhookTemplateFile ? readFileSync(config.webhookTemplateFile, 'utf8') : config.webhookTemplate);
    sinks.push({
      notify: (n) => d.logger.info({ reason: n.reason }, `dry-run: would have sent a webhook: ${n.reason}: ${n.message}`),
      flush: async () => undefined,
      close: () => undefined,
    });
  } else if (config.webhookUrl) {
    const source = config.webhookTemplateFile ? readFileSync(config.webhookTemplateFile, 'utf8') : config.webhookTemplate;
    sinks.push(
      new WebhookNotifier({
        url: config.webhookUrl,
        headers: config.webhookHeaders,
        template: compileWebhookTemplate(source),
        ...(config.webhookProxy ? { proxy: config.webhookProxy } : {}),
        clock,
        logger: d.logger,
        metrics,
        metadata: d.metadata,
        wants: nthWebhookSelection(d.cordonIsFinal),
        lookup: {
          podNames: async () =>
            (await kube.listPodsOnNode(config.nodeName)).filter((p) => !p.terminating).map((p) => p.name),
          nodeLabels: async () => (await kube.getNode(config.nodeName))?.labels ?? {},
        },
      }),
    );
  }
  const all: Notifier[] = [...sinks, ...(d.extra ? [d.extra] : [])];
  return {
    notifier: fanOut(all),
    flush: async (boundMs) => {
      await Promise.all(sinks.map((s) => s.flush(boundMs)));
    },
    close: () => sinks.forEach((s) => s.close()),
  };
}
