/**
 * Cross-option rules: combinations that are contradictory (errors) or that NTH tolerated but that
 * probably do not do what the user meant (warnings). Declarative, so docs/configuration.md lists
 * each one from here.
 */
import { optionLabel as L } from './options.js';
import type { Config, ConfigKey, ConfigSource } from './schema.js';

export interface Rule {
  id: string;
  severity: 'error' | 'warning';
  /** Options the rule reads; it is skipped when one of them is already reported invalid. */
  uses: readonly ConfigKey[];
  /** One line for docs/configuration.md. */
  doc: string;
  /** Messages for this configuration (empty when the rule holds). */
  check(c: Config, sources: Record<ConfigKey, ConfigSource>): string[];
}

const isSet = (s: Record<ConfigKey, ConfigSource>, k: ConfigKey) => s[k] === 'flag' || s[k] === 'env';

export const RULES: readonly Rule[] = [
  {
    id: 'spot-guard-needs-asgs',
    severity: 'error',
    uses: ['enableSpotGuard', 'spotAsgName', 'onDemandAsgName'],
    doc: 'ENABLE_SPOT_GUARD=true requires SPOT_ASG_NAME and ON_DEMAND_ASG_NAME.',
    check: (c) => {
      if (!c.enableSpotGuard) return [];
      const out: string[] = [];
      for (const k of ['spotAsgName', 'onDemandAsgName'] as const) {
        if (!c[k]) out.push(`${L('enableSpotGuard')} is true but ${L(k)} is not set: Spot Guard needs both Auto Scaling groups`);
      }
      return out;
    },
  },
  {
    id: 'spot-guard-needs-rebalance',
    severity: 'error',
    uses: ['enableSpotGuard', 'enableRebalanceMonitoring', 'enableRebalanceDraining'],
    doc: 'ENABLE_SPOT_GUARD=true requires ENABLE_REBALANCE_MONITORING or ENABLE_REBALANCE_DRAINING (Spot Guard acts on rebalance recommendations).',
    check: (c) =>
      c.enableSpotGuard && !c.enableRebalanceMonitoring && !c.enableRebalanceDraining
        ? [
            `${L('enableSpotGuard')} is true but neither ${L('enableRebalanceMonitoring')} nor ${L('enableRebalanceDraining')} is: Spot Guard acts on rebalance recommendations, enable one of them`,
          ]
        : [],
  },
  {
    id: 'distinct-asgs',
    severity: 'error',
    uses: ['spotAsgName', 'onDemandAsgName'],
    doc: 'SPOT_ASG_NAME and ON_DEMAND_ASG_NAME must differ.',
    check: (c) =>
      c.spotAsgName !== undefined && c.spotAsgName === c.onDemandAsgName
        ? [
            `${L('spotAsgName')} and ${L('onDemandAsgName')} are both "${c.spotAsgName}": the spot group and the on-demand fallback group must be different groups`,
          ]
        : [],
  },
  {
    id: 'spot-guard-not-cordon-only',
    severity: 'error',
    uses: ['enableSpotGuard', 'cordonOnly'],
    doc: 'ENABLE_SPOT_GUARD=true with CORDON_ONLY=true is refused: the replacement would be added but the at-risk node never drained and retired, so every rebalance would grow the fleet.',
    check: (c) =>
      c.enableSpotGuard && c.cordonOnly
        ? [
            `${L('enableSpotGuard')} and ${L('cordonOnly')} are both true: Spot Guard adds a replacement and then drains and retires the at-risk node; without the drain every rebalance grows the fleet`,
          ]
        : [],
  },
  {
    id: 'spot-guard-poll-below-timeouts',
    severity: 'error',
    uses: ['enableSpotGuard', 'spotGuardPollIntervalMs', 'spotGuardScaleTimeoutMs', 'spotGuardCapacityCheckTimeoutMs'],
    doc: 'With ENABLE_SPOT_GUARD, SPOT_GUARD_POLL_INTERVAL must be shorter than SPOT_GUARD_SCALE_TIMEOUT and SPOT_GUARD_CAPACITY_CHECK_TIMEOUT (a wait must be able to look at least twice).',
    check: (c) => {
      if (!c.enableSpotGuard) return [];
      const out: string[] = [];
      for (const k of ['spotGuardScaleTimeoutMs', 'spotGuardCapacityCheckTimeoutMs'] as const) {
        if (c.spotGuardPollIntervalMs >= c[k]) {
          out.push(`${L('spotGuardPollIntervalMs')} must be shorter than ${L(k)}: a wait would time out before its first check`);
        }
      }
      return out;
    },
  },
  {
    id: 'revert-backoff-order',
    severity: 'error',
    uses: ['spotGuardRevertBackoffMs', 'spotGuardRevertBackoffMaxMs'],
    doc: 'SPOT_GUARD_REVERT_BACKOFF_MAX must not be shorter than SPOT_GUARD_REVERT_BACKOFF.',
    check: (c) =>
      c.spotGuardRevertBackoffMaxMs < c.spotGuardRevertBackoffMs
        ? [`${L('spotGuardRevertBackoffMaxMs')} must not be shorter than ${L('spotGuardRevertBackoffMs')}`]
        : [],
  },
  {
    id: 'webhook-template-xor-file',
    severity: 'error',
    uses: ['webhookTemplate', 'webhookTemplateFile'],
    doc: 'WEBHOOK_TEMPLATE and WEBHOOK_TEMPLATE_FILE cannot both be set (NTH silently preferred the file).',
    check: (c, s) =>
      isSet(s, 'webhookTemplate') && c.webhookTemplateFile !== undefined
        ? [`${L('webhookTemplate')} and ${L('webhookTemplateFile')} are both set: use one of them`]
        : [],
  },
  {
    id: 'some-monitor',
    severity: 'error',
    uses: ['enableSpotInterruptionDraining', 'enableScheduledEventDraining', 'enableRebalanceMonitoring', 'enableRebalanceDraining', 'enableAsgLifecycleDraining'],
    doc: 'At least one monitor must be on (spot ITN, scheduled events, rebalance, ASG lifecycle): an agent that watches nothing is a silent misconfiguration, so it is an error rather than a warning.',
    check: (c) =>
      !c.enableSpotInterruptionDraining &&
      !c.enableScheduledEventDraining &&
      !c.enableRebalanceMonitoring &&
      !c.enableRebalanceDraining &&
      !c.enableAsgLifecycleDraining
        ? [
            `no monitor is enabled: set at least one of ${L('enableSpotInterruptionDraining')}, ${L('enableScheduledEventDraining')}, ${L('enableRebalanceMonitoring')}, ${L('enableRebalanceDraining')}, ${L('enableAsgLifecycleDraining')} to true`,
          ]
        : [],
  },
  {
    id: 'distinct-ports',
    severity: 'error',
    uses: ['enablePrometheusServer', 'enableProbesServer', 'prometheusServerPort', 'probesServerPort'],
    doc: 'With both servers enabled, PROMETHEUS_SERVER_PORT and PROBES_SERVER_PORT must differ.',
    check: (c) =>
      c.enablePrometheusServer && c.enableProbesServer && c.prometheusServerPort === c.probesServerPort
        ? [
            `${L('prometheusServerPort')} and ${L('probesServerPort')} are both ${c.probesServerPort} while both servers are enabled: use different ports`,
          ]
        : [],
  },
  // ---- warnings ----
  {
    id: 'asgs-without-spot-guard',
    severity: 'warning',
    uses: ['enableSpotGuard', 'spotAsgName', 'onDemandAsgName'],
    doc: 'SPOT_ASG_NAME / ON_DEMAND_ASG_NAME without ENABLE_SPOT_GUARD: warning, they are unused.',
    check: (c) =>
      !c.enableSpotGuard && (c.spotAsgName !== undefined || c.onDemandAsgName !== undefined)
        ? [`${L('spotAsgName')} / ${L('onDemandAsgName')} are set but ${L('enableSpotGuard')} is false: they are not used`]
        : [],
  },
  {
    id: 'cordon-only-with-rebalance-draining',
    severity: 'warning',
    uses: ['cordonOnly', 'enableRebalanceDraining'],
    doc: 'CORDON_ONLY with ENABLE_REBALANCE_DRAINING: warning, CORDON_ONLY wins (as in NTH), nothing is drained.',
    check: (c) =>
      c.cordonOnly && c.enableRebalanceDraining
        ? [`${L('cordonOnly')} and ${L('enableRebalanceDraining')} are both true: nodes are only cordoned, never drained`]
        : [],
  },
  {
    id: 'taint-effect-without-taint',
    severity: 'warning',
    uses: ['taintEffect', 'taintNode'],
    doc: 'TAINT_EFFECT set while TAINT_NODE=false: warning, no NTH taint is applied.',
    check: (c, s) =>
      isSet(s, 'taintEffect') && !c.taintNode
        ? [`${L('taintEffect')} is set but ${L('taintNode')} is false: no NTH taint is applied`]
        : [],
  },
  {
    id: 'annotations-without-events',
    severity: 'warning',
    uses: ['kubernetesEventsExtraAnnotations', 'emitKubernetesEvents'],
    doc: 'KUBERNETES_EVENTS_EXTRA_ANNOTATIONS set while EMIT_KUBERNETES_EVENTS=false: warning, unused.',
    check: (c, s) =>
      isSet(s, 'kubernetesEventsExtraAnnotations') && !c.emitKubernetesEvents
        ? [`${L('kubernetesEventsExtraAnnotations')} is set but ${L('emitKubernetesEvents')} is false: no events are emitted`]
        : [],
  },
  {
    id: 'webhook-options-without-url',
    severity: 'warning',
    uses: ['webhookUrl', 'webhookHeaders', 'webhookTemplate', 'webhookTemplateFile', 'webhookProxy'],
    doc: 'WEBHOOK_HEADERS / WEBHOOK_TEMPLATE / WEBHOOK_TEMPLATE_FILE / WEBHOOK_PROXY set without WEBHOOK_URL: warning, no webhook is sent.',
    check: (c, s) => {
      if (c.webhookUrl !== undefined) return [];
      const set = (['webhookHeaders', 'webhookTemplate', 'webhookTemplateFile', 'webhookProxy'] as const).filter((k) =>
        isSet(s, k),
      );
      return set.length ? [`${set.map(L).join(', ')} set but ${L('webhookUrl')} is not: no webhook is sent`] : [];
    },
  },
];
