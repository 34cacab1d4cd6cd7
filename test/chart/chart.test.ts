/**
 * charts/spot-guard rendered for the default values and for Spot Guard values (as `helm template`
 * would, see helm.ts), with assertions on the objects; the values → env mapping checked against the
 * option table (src/config/options.ts); bad values rejected by values.schema.json.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../../src/config/load.js';
import { OPTIONS, optionEntries } from '../../src/config/options.js';
import type { LoadDeps } from '../../src/config/schema.js';
import {
  RELEASE,
  SCHEMA_SKIP,
  ValuesError,
  ciValues,
  container,
  envMap,
  envOf,
  one,
  podSpec,
  renderChart,
  schemaErrors,
  coalesce,
  chartValues,
  type Obj,
} from './helm.js';

const noFiles: LoadDeps = { readFile: () => undefined };
/** The files the chart mounts (webhook template ConfigMap, webhook URL Secret), as the kubelet would. */
const mountedFiles: LoadDeps = {
  readFile: (p) =>
    p.startsWith('/config/') ? '{"text":"{{ .NodeName }}"}' : p.startsWith('/var/run/secrets/spot-guard/webhook/') ? 'https://hooks.example.com/x' : undefined,
};
const DOWNWARD = { NODE_NAME: 'ip-10-0-0-1.ec2.internal', POD_NAME: 'spot-guard-x7k2p', NAMESPACE: RELEASE.namespace };
const CI_FILES = ['default-values.yaml', 'spot-guard-values.yaml', 'everything-values.yaml', 'webhook-secret-values.yaml'];

/**
 * Options the chart deliberately does not set, and why. Every other option must be reachable from
 * some values file in charts/spot-guard/ci/.
 */
export const CHART_EXCLUDED_OPTIONS: Record<string, string> = {
  KUBECONFIG: 'in a pod the agent uses its service account (in-cluster config)',
  AWS_ENDPOINT: 'testing only (points the Auto Scaling client at the simulator); extraEnv can still set it',
};

/** Loads the agent's configuration from what the chart puts in the container's environment. */
function agentConfig(user: Obj) {
  const { objects } = renderChart(user);
  const ds = one(objects, 'DaemonSet');
  return resolveConfig(new Map(), envMap(ds, DOWNWARD), mountedFiles);
}

describe('chart: default values (NTH-compatible, Spot Guard off)', () => {
  const { objects, notes } = renderChart(ciValues('default-values.yaml'));
  const ds = one(objects, 'DaemonSet');
  const pod = podSpec(ds);
  const c = container(ds);

  it('renders a ServiceAccount, ClusterRole(+Binding) and DaemonSet, nothing Spot-Guard- or Prometheus-specific', () => {
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'ServiceAccount']);
    for (const o of objects) assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], RELEASE.name);
  });

  it('host networking with the matching DNS policy, system-node-critical, linux nodes', () => {
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.equal(pod.serviceAccountName, one(objects, 'ServiceAccount').metadata.name);
  });

  it('NODE_NAME, POD_NAME and NAMESPACE come from the downward API', () => {
    const env = envOf(ds);
    const ref = (name: string) => (env.find((e) => e.name === name)?.valueFrom as { fieldRef?: { fieldPath?: string } })?.fieldRef?.fieldPath;
    assert.equal(ref('NODE_NAME'), 'spec.nodeName');
    assert.equal(ref('POD_NAME'), 'metadata.name');
    assert.equal(ref('NAMESPACE'), 'metadata.namespace');
  });

  it('non-root, read-only root filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp', () => {
    const psc = pod.securityContext as Obj;
    const sc = c.securityContext as Obj;
    assert.equal(psc.runAsNonRoot, true);
    assert.ok((psc.runAsUser as number) > 0);
    assert.deepEqual(psc.seccompProfile, { type: 'RuntimeDefault' });
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual((sc.capabilities as Obj).drop, ['ALL']);
    assert.equal(sc.privileged, undefined);
  });

  it("tolerates its own taints (NTH's keys and the Spot Guard taint) and, as NTH, everything else", () => {
    const keys = (pod.tolerations as { key?: string; operator: string }[]).map((t) => t.key ?? `*${t.operator}`);
    for (const k of [
      'aws-node-termination-handler/spot-itn',
      'aws-node-termination-handler/rebalance-recommendation',
      'aws-node-termination-handler/scheduled-maintenance',
      'aws-node-termination-handler/asg-lifecycle-termination',
      OPTIONS.spotGuardTaintKey.default!,
    ])
      assert.ok(keys.includes(k), k);
    assert.ok(keys.includes('*Exists'));
  });

  it('the own taints stay tolerated when the user narrows tolerations, and follow a custom Spot Guard taint key', () => {
    const { objects: o2 } = renderChart({ tolerations: [], spotGuard: { taint: { key: 'example.com/at-risk', value: 'true', effect: 'NoExecute' } } });
    const keys = (podSpec(one(o2, 'DaemonSet')).tolerations as { key?: string }[]).map((t) => t.key);
    assert.ok(keys.includes('aws-node-termination-handler/spot-itn'));
    assert.ok(keys.includes('example.com/at-risk'));
    assert.ok(!keys.includes(undefined));
  });

  it('memory request/limit sized from the measured RSS (idle ≈158 MB, peak ≈175 MB) with headroom; a CPU request', () => {
    const r = c.resources as { requests: Record<string, string>; limits: Record<string, string> };
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]);
    const peakMiB = 175e6 / 2 ** 20;
    assert.ok(mib(r.requests.memory!) >= peakMiB * 1.1, 'request covers the measured peak with >= 10% headroom');
    assert.ok(mib(r.limits.memory!) >= mib(r.requests.memory!) * 1.5, 'limit well above the request');
    assert.ok(r.requests.cpu);
  });

  it('liveness and readiness probes on the probes server, which the chart turns on', () => {
    assert.deepEqual((c.livenessProbe as Obj).httpGet, { path: '/healthz', port: 'probes' });
    assert.deepEqual((c.readinessProbe as Obj).httpGet, { path: '/healthz', port: 'probes' });
    assert.deepEqual(c.ports, [{ name: 'probes', containerPort: 8080, protocol: 'TCP' }]);
    assert.equal(envMap(ds).ENABLE_PROBES_SERVER, 'true');
  });

  it('the image is the chart appVersion and is started with `run`', () => {
    assert.equal(c.image, 'spot-guard:0.1.0');
    assert.deepEqual(c.args, ['run']);
  });

  it('the agent accepts the configuration, without a warning, and it equals the agent defaults except the probes server', () => {
    const loaded = agentConfig({});
    assert.deepEqual(loaded.warnings, []);
    const baseline = resolveConfig(new Map(), DOWNWARD, noFiles).config;
    const differs = Object.keys(baseline).filter(
      (k) => JSON.stringify(loaded.config[k as keyof typeof baseline]) !== JSON.stringify(baseline[k as keyof typeof baseline]),
    );
    assert.deepEqual(differs, ['enableProbesServer']);
  });

  it('NOTES say Spot Guard is off', () => {
    assert.match(notes, /Spot Guard: off/);
  });
});

describe('chart: Spot Guard values', () => {
  const { objects } = renderChart(ciValues('spot-guard-values.yaml'));
  const ds = one(objects, 'DaemonSet');
  const env = envMap(ds);

  it('sets ENABLE_SPOT_GUARD, both groups and the rebalance draining it needs', () => {
    assert.equal(env.ENABLE_SPOT_GUARD, 'true');
    assert.equal(env.SPOT_ASG_NAME, 'eks-spot-workers');
    assert.equal(env.ON_DEMAND_ASG_NAME, 'eks-on-demand-workers');
    assert.equal(env.ENABLE_REBALANCE_DRAINING, 'true');
    assert.equal(env.SPOT_GUARD_REVERT, 'true');
  });

  it('the agent accepts it without a warning, with the chart values in force', () => {
    const { config, warnings } = agentConfig(ciValues('spot-guard-values.yaml'));
    assert.deepEqual(warnings, []);
    assert.equal(config.enableSpotGuard, true);
    assert.equal(config.spotGuardCapacityCacheTtlMs, 180_000);
    assert.equal(config.namespace, RELEASE.namespace);
    assert.equal(config.podName, DOWNWARD.POD_NAME);
  });

  it('IRSA role annotation on the ServiceAccount', () => {
    assert.equal(one(objects, 'ServiceAccount').metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::111122223333:role/spot-guard');
  });

  it('PodMonitor scrapes the metrics port of these pods; PrometheusRule includes the Spot Guard alerts', () => {
    const pm = one(objects, 'PodMonitor');
    assert.deepEqual((pm.spec as { podMetricsEndpoints: Obj[] }).podMetricsEndpoints[0], { port: 'metrics', path: '/metrics', interval: '30s' });
    assert.deepEqual((pm.spec as { selector: Obj }).selector, { matchLabels: (one(objects, 'DaemonSet').spec as { selector: { matchLabels: Obj } }).selector.matchLabels });
    assert.ok((container(ds).ports as { name: string; containerPort: number }[]).some((p) => p.name === 'metrics' && p.containerPort === 9092));
    const rules = (one(objects, 'PrometheusRule').spec as { groups: { rules: { alert: string; expr: string }[] }[] }).groups[0]!.rules;
    const alerts = rules.map((r) => r.alert);
    for (const a of ['SpotGuardMonitorStalled', 'SpotGuardNoCapacity', 'SpotGuardOnDemandFallback', 'SpotGuardAutoScalingErrors']) assert.ok(alerts.includes(a), a);
    assert.match(JSON.stringify(rules), /\{\{ \$labels\.pod \}\}/, 'Prometheus templates are passed through literally');
  });
});

describe('chart: values → env mapping is the option table', () => {
  const envNames = new Set<string>();
  for (const f of CI_FILES) for (const e of envOf(one(renderChart(ciValues(f)).objects, 'DaemonSet'))) envNames.add(e.name);
  const known = new Set(optionEntries().map((e) => e.def.env));

  it('every env var the chart sets is an agent option', () => {
    assert.deepEqual([...envNames].filter((n) => !known.has(n)), []);
  });

  it('every option is reachable from the chart values, or deliberately excluded (CHART_EXCLUDED_OPTIONS)', () => {
    const missing = [...known].filter((n) => !envNames.has(n) && !(n in CHART_EXCLUDED_OPTIONS));
    assert.deepEqual(missing, [], 'add a chart value (values.yaml, schema, daemonset.yaml, ci/everything-values.yaml) or an exclusion with a reason');
    for (const n of Object.keys(CHART_EXCLUDED_OPTIONS)) assert.ok(known.has(n), `${n} is no longer an option`);
  });

  it('docs/install.md names every env var the chart sets, and the excluded options', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/install.md', import.meta.url)), 'utf8');
    const missing = [...envNames, ...Object.keys(CHART_EXCLUDED_OPTIONS)].filter((n) => !doc.includes(`\`${n}\``));
    assert.deepEqual(missing, [], 'update the "Chart values" table in docs/install.md');
  });

  it('every values file in ci/ yields a configuration the agent accepts, with the values in force', () => {
    for (const f of CI_FILES) {
      const { config } = agentConfig(ciValues(f));
      assert.equal(config.nodeName, DOWNWARD.NODE_NAME, f);
    }
    const { config } = agentConfig(ciValues('everything-values.yaml'));
    assert.equal(config.taintEffect, 'NoExecute');
    assert.equal(config.metadataTimeoutMs, 1500);
    assert.equal(config.spotGuardCapacityCacheTtlMs, 0);
    assert.equal(config.spotGuardTaintKey, 'example.com/spot-at-risk');
    assert.equal(config.spotGuardRevertConcurrency, 3);
    assert.equal(config.webhookTemplateFile, '/config/template.json');
    assert.equal(config.logLevel, 'debug');
  });

  it('webhookURLSecretName mounts the Secret and points WEBHOOK_URL_FILE at it (the URL never in the env)', () => {
    const ds = one(renderChart(ciValues('webhook-secret-values.yaml')).objects, 'DaemonSet');
    const env = envMap(ds);
    assert.equal(env.WEBHOOK_URL, undefined);
    assert.equal(env.WEBHOOK_URL_FILE, '/var/run/secrets/spot-guard/webhook/webhookurl');
    const vol = (podSpec(ds).volumes as { name: string; secret?: { secretName: string } }[]).find((v) => v.secret);
    assert.equal(vol?.secret?.secretName, 'spot-guard-webhook');
    assert.ok((container(ds).volumeMounts as { mountPath: string; readOnly: boolean }[]).some((m) => m.mountPath === '/var/run/secrets/spot-guard/webhook/' && m.readOnly));
  });

  it("the chart's NTH-named values default to the agent's (NTH's) defaults", () => {
    const v = chartValues();
    const pairs: [unknown, unknown][] = [
      [v.metadataTries, OPTIONS.metadataTries.default],
      [v.enableSpotInterruptionDraining, OPTIONS.enableSpotInterruptionDraining.default],
      [v.enableScheduledEventDraining, OPTIONS.enableScheduledEventDraining.default],
      [v.enableRebalanceMonitoring, OPTIONS.enableRebalanceMonitoring.default],
      [v.enableRebalanceDraining, OPTIONS.enableRebalanceDraining.default],
      [v.enableASGLifecycleDraining, OPTIONS.enableAsgLifecycleDraining.default],
      [v.taintEffect, OPTIONS.taintEffect.default],
      [v.podTerminationGracePeriod, OPTIONS.podTerminationGracePeriodSeconds.default],
      [(v.nodeTerminationGracePeriod as number) * 1000, OPTIONS.nodeTerminationGracePeriodMs.default],
      [v.prometheusServerPort, OPTIONS.prometheusServerPort.default],
      [v.probesServerPort, OPTIONS.probesServerPort.default],
      [v.probesServerEndpoint, OPTIONS.probesServerEndpoint.default],
    ];
    for (const [chart, agent] of pairs) assert.deepEqual(chart, agent);
  });
});

describe('chart: bad values are rejected', { skip: SCHEMA_SKIP }, () => {
  const bad: [string, Obj, RegExp][] = [
    ['Spot Guard without group names', { enableRebalanceDraining: true, spotGuard: { enabled: true } }, /spotGuard.*spotAsgName|spotAsgName/],
    ['Spot Guard with an empty group name', { enableRebalanceDraining: true, spotGuard: { enabled: true, spotAsgName: '', onDemandAsgName: 'od' } }, /spotAsgName/],
    ['Spot Guard without rebalance monitoring or draining', { spotGuard: { enabled: true, spotAsgName: 's', onDemandAsgName: 'od' } }, /enableRebalance/],
    ['Spot Guard with cordonOnly', { cordonOnly: true, enableRebalanceDraining: true, spotGuard: { enabled: true, spotAsgName: 's', onDemandAsgName: 'od' } }, /cordonOnly/],
    ['a taint effect that does not exist', { taintEffect: 'NoScheduling' }, /taintEffect/],
    ['a boolean given as a string', { dryRun: 'true' }, /dryRun/],
    ['a port out of range', { probesServerPort: 70000 }, /probesServerPort/],
    ['an unknown value (typo)', { enableSpotInteruptionDraining: true }, /additional/i],
    ['NTH queue mode', { enableSqsTerminationDraining: true }, /enableSqsTerminationDraining/],
    ['a duration that is not one', { spotGuard: { scaleTimeout: 'two minutes' } }, /scaleTimeout/],
    ['no monitor at all', { enableSpotInterruptionDraining: false, enableScheduledEventDraining: false }, /anyOf|should match/],
    ['a PodMonitor without the metrics server', { podMonitor: { create: true } }, /enablePrometheusServer/],
    ['a bad Spot Guard taint key', { spotGuard: { taint: { key: 'bad key!', value: 'true', effect: 'NoSchedule' } } }, /taint/],
    ['a webhook template ConfigMap without its key', { webhookURL: 'https://example.com/x', webhookTemplateConfigMapName: 'cm' }, /webhookTemplateConfigMapKey/],
  ];
  for (const [what, user, expect] of bad) {
    it(`rejects ${what}`, () => {
      const errs = schemaErrors(coalesce(chartValues(), user));
      assert.ok(errs.length > 0, 'expected schema errors');
      assert.match(errs.join('\n'), expect);
      assert.throws(() => renderChart(user), ValuesError);
    });
  }

  it('accepts the default values and every values file in ci/', () => {
    assert.deepEqual(schemaErrors(chartValues()), []);
    for (const f of CI_FILES) assert.deepEqual(schemaErrors(coalesce(chartValues(), ciValues(f))), [], f);
  });
});

describe('chart: contradictions the schema cannot express fail the render', () => {
  const cases: [string, Obj, RegExp][] = [
    ['the same group twice', { enableRebalanceDraining: true, spotGuard: { enabled: true, spotAsgName: 'g', onDemandAsgName: 'g' } }, /must be different/],
    ['webhookURL and webhookURLSecretName', { webhookURL: 'https://example.com/x', webhookURLSecretName: 's' }, /not both/],
    ['the same port for probes and metrics', { enablePrometheusServer: true, prometheusServerPort: 8080 }, /must differ/],
  ];
  for (const [what, user, expect] of cases) {
    it(`fails on ${what}`, () => assert.throws(() => renderChart(user), expect));
  }
});
