import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { OPTIONS, flagFor, optionEntries } from '../../src/config/options.js';
import { BASE_ENV, filesDeps, load, noFiles } from './helpers.js';

describe('defaults', () => {
  it("equal NTH's IMDS-mode defaults", () => {
    const { config: c, sources } = load();
    assert.equal(c.nodeName, 'ip-10-0-0-1.ec2.internal');
    assert.equal(sources.nodeName, 'env');
    assert.equal(c.instanceMetadataUrl, 'http://169.254.169.254');
    assert.equal(c.metadataTries, 3);
    assert.equal(c.enableSpotInterruptionDraining, true);
    assert.equal(c.enableScheduledEventDraining, true);
    assert.equal(c.enableRebalanceMonitoring, false);
    assert.equal(c.enableRebalanceDraining, false);
    assert.equal(c.enableAsgLifecycleDraining, false);
    assert.equal(c.dryRun, false);
    assert.equal(c.cordonOnly, false);
    assert.equal(c.taintNode, false);
    assert.equal(c.taintEffect, 'NoSchedule');
    assert.equal(c.ignoreDaemonSets, true);
    assert.equal(c.deleteLocalData, true);
    assert.equal(c.podTerminationGracePeriodSeconds, -1);
    assert.equal(c.nodeTerminationGracePeriodMs, 120_000);
    assert.equal(c.excludeFromLoadBalancers, false);
    assert.equal(c.emitKubernetesEvents, false);
    assert.deepEqual(c.kubernetesEventsExtraAnnotations, {});
    assert.equal(c.webhookUrl, undefined);
    assert.deepEqual(c.webhookHeaders, { 'Content-type': 'application/json' });
    assert.equal(
      c.webhookTemplate,
      '{"text":"[NTH][Instance Interruption] EventID: {{ .EventID }} - Kind: {{ .Kind }} - Instance: {{ .InstanceID }} - Node: {{ .NodeName }} - Description: {{ .Description }} - Start Time: {{ .StartTime }}"}',
    );
    assert.equal(c.webhookTemplateFile, undefined);
    assert.equal(c.webhookProxy, undefined);
    assert.equal(c.enablePrometheusServer, false);
    assert.equal(c.prometheusServerPort, 9092);
    assert.equal(c.enableProbesServer, false);
    assert.equal(c.probesServerPort, 8080);
    assert.equal(c.probesServerEndpoint, '/healthz');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.jsonLogging, false);
    assert.equal(c.podName, undefined);
    assert.equal(c.namespace, 'default');
    assert.equal(c.awsRegion, undefined);
  });

  it('has the Spot Guard and agent defaults', () => {
    const { config: c } = load();
    assert.equal(c.enableSpotGuard, false);
    assert.equal(c.spotAsgName, undefined);
    assert.equal(c.onDemandAsgName, undefined);
    assert.equal(c.spotGuardScaleTimeoutMs, 120_000);
    assert.equal(c.spotGuardCapacityCheckTimeoutMs, 120_000);
    assert.equal(c.spotGuardPollIntervalMs, 10_000);
    assert.equal(c.spotGuardCapacityCacheTtlMs, 180_000);
    assert.equal(c.spotGuardTaintKey, 'spot-instance-terminating');
    assert.equal(c.spotGuardTaintValue, 'true');
    assert.equal(c.spotGuardTaintEffect, 'NoSchedule');
    assert.equal(c.spotGuardRetireAfterDrain, true);
    assert.equal(c.kubeconfig, undefined);
    assert.equal(c.imdsPollIntervalMs, 2_000);
    assert.equal(c.metadataTimeoutMs, 2_000);
    assert.equal(c.shutdownTimeoutMs, 25_000);
  });

  it('every field is present and every source is default except NODE_NAME', () => {
    const { config, sources, warnings } = load();
    for (const { key } of optionEntries()) {
      assert.ok(key in config, key);
      assert.equal(sources[key], key === 'nodeName' ? 'env' : 'default', key);
    }
    assert.deepEqual(warnings, []);
  });

  it('NAMESPACE defaults to the service-account namespace file', () => {
    const deps = filesDeps({ '/var/run/secrets/kubernetes.io/serviceaccount/namespace': 'kube-system\n' });
    const { config, sources } = load([], BASE_ENV, deps);
    assert.equal(config.namespace, 'kube-system');
    assert.equal(sources.namespace, 'file');
    const fromEnv = load([], { ...BASE_ENV, NAMESPACE: 'ops' }, deps);
    assert.equal(fromEnv.config.namespace, 'ops');
    assert.equal(fromEnv.sources.namespace, 'env');
  });
});

describe('env parsing', () => {
  it('reads every kind from env', () => {
    const { config: c, sources } = load([], {
      ...BASE_ENV,
      INSTANCE_METADATA_URL: 'http://localhost:1338/',
      METADATA_TRIES: '5',
      ENABLE_REBALANCE_DRAINING: 'TRUE',
      DRY_RUN: '1',
      IGNORE_DAEMON_SETS: 'f',
      TAINT_EFFECT: 'noexecute',
      POD_TERMINATION_GRACE_PERIOD: '30',
      NODE_TERMINATION_GRACE_PERIOD: '90',
      KUBERNETES_EVENTS_EXTRA_ANNOTATIONS: 'first=annotation, sample.annotation/number=two',
      WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X',
      WEBHOOK_HEADERS: '{"Authorization":"Bearer t","Content-Type":"application/json"}',
      LOG_LEVEL: 'DEBUG',
      PROMETHEUS_SERVER_PORT: '9100',
      IMDS_POLL_INTERVAL: '500ms',
      SPOT_GUARD_SCALE_TIMEOUT: '90',
      SPOT_GUARD_CAPACITY_CACHE_TTL: '0',
      AWS_REGION: 'eu-central-1',
      KUBECONFIG: '/home/u/.kube/config',
    });
    assert.equal(c.instanceMetadataUrl, 'http://localhost:1338');
    assert.equal(c.metadataTries, 5);
    assert.equal(c.enableRebalanceDraining, true);
    assert.equal(c.dryRun, true);
    assert.equal(c.ignoreDaemonSets, false);
    assert.equal(c.taintEffect, 'NoExecute');
    assert.equal(c.podTerminationGracePeriodSeconds, 30);
    assert.equal(c.nodeTerminationGracePeriodMs, 90_000);
    assert.deepEqual(c.kubernetesEventsExtraAnnotations, { first: 'annotation', 'sample.annotation/number': 'two' });
    assert.equal(c.webhookUrl, 'https://hooks.slack.com/services/T/B/X');
    assert.deepEqual(c.webhookHeaders, { Authorization: 'Bearer t', 'Content-Type': 'application/json' });
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.prometheusServerPort, 9100);
    assert.equal(c.imdsPollIntervalMs, 500);
    assert.equal(c.spotGuardScaleTimeoutMs, 90_000);
    assert.equal(c.spotGuardCapacityCacheTtlMs, 0);
    assert.equal(c.awsRegion, 'eu-central-1');
    assert.equal(c.kubeconfig, '/home/u/.kube/config');
    assert.equal(sources.metadataTries, 'env');
  });

  it('treats an empty env var as unset (NTH)', () => {
    const { config, sources } = load([], { ...BASE_ENV, METADATA_TRIES: '', TAINT_EFFECT: '  ', WEBHOOK_URL: '' });
    assert.equal(config.metadataTries, 3);
    assert.equal(sources.metadataTries, 'default');
    assert.equal(config.taintEffect, 'NoSchedule');
    assert.equal(config.webhookUrl, undefined);
  });

  it('accepts the boolean spellings of Go strconv.ParseBool in any case', () => {
    for (const [raw, want] of [
      ['true', true],
      ['True', true],
      ['TRUE', true],
      ['t', true],
      ['T', true],
      ['1', true],
      ['false', false],
      ['False', false],
      ['FALSE', false],
      ['f', false],
      ['0', false],
    ] as const) {
      assert.equal(load([], { ...BASE_ENV, DRY_RUN: raw }).config.dryRun, want, raw);
    }
  });

  it('accepts the deprecated GRACE_PERIOD with a warning, POD_TERMINATION_GRACE_PERIOD winning', () => {
    const old = load([], { ...BASE_ENV, GRACE_PERIOD: '10' });
    assert.equal(old.config.podTerminationGracePeriodSeconds, 10);
    assert.ok(old.warnings.some((w) => w.includes('GRACE_PERIOD is deprecated')));
    const both = load([], { ...BASE_ENV, GRACE_PERIOD: '10', POD_TERMINATION_GRACE_PERIOD: '20' });
    assert.equal(both.config.podTerminationGracePeriodSeconds, 20);
  });

  it('warns about NTH options it ignores', () => {
    const { warnings } = load([], { ...BASE_ENV, WORKERS: '10', ENABLE_OUT_OF_SERVICE_TAINT: 'true' });
    assert.equal(warnings.length, 2);
    assert.ok(warnings[0]!.includes('ENABLE_OUT_OF_SERVICE_TAINT'));
    assert.ok(warnings[1]!.includes('WORKERS'));
  });
});

describe('flags', () => {
  it('override env', () => {
    const { config, sources } = load(['--metadata-tries', '7', '--taint-effect=PreferNoSchedule', '--node-name', 'n2'], {
      ...BASE_ENV,
      METADATA_TRIES: '5',
      TAINT_EFFECT: 'NoExecute',
    });
    assert.equal(config.metadataTries, 7);
    assert.equal(config.taintEffect, 'PreferNoSchedule');
    assert.equal(config.nodeName, 'n2');
    assert.equal(sources.metadataTries, 'flag');
    assert.equal(sources.nodeName, 'flag');
  });

  it('take booleans bare, with =value and with a separate value', () => {
    const env = { ...BASE_ENV, TAINT_NODE: 'false', DRY_RUN: 'true', CORDON_ONLY: 'false' };
    const { config } = load(['--taint-node', '--dry-run=false', '--cordon-only', 'TRUE'], env);
    assert.equal(config.taintNode, true);
    assert.equal(config.dryRun, false);
    assert.equal(config.cordonOnly, true);
  });

  it("accept NTH's flag spellings as aliases; the primary flag wins", () => {
    const { config } = load(['--metadata-url', 'http://127.0.0.1:1338', '--pod-namespace', 'nth', '--grace-period', '5']);
    assert.equal(config.instanceMetadataUrl, 'http://127.0.0.1:1338');
    assert.equal(config.namespace, 'nth');
    assert.equal(config.podTerminationGracePeriodSeconds, 5);
    const both = load(['--namespace', 'a', '--pod-namespace', 'b']);
    assert.equal(both.config.namespace, 'a');
  });

  it('an empty flag clears an optional option set in env', () => {
    const { config, sources } = load(['--webhook-url='], { ...BASE_ENV, WEBHOOK_URL: 'https://example.com/x' });
    assert.equal(config.webhookUrl, undefined);
    assert.equal(sources.webhookUrl, 'flag');
  });

  it('loadConfig returns just the Config', () => {
    const c = loadConfig(['--node-name', 'n3'], {}, noFiles);
    assert.equal(c.nodeName, 'n3');
  });
});

describe('option table', () => {
  it('derives each flag from its env name and has no duplicates', () => {
    const envs = new Set<string>();
    const flags = new Set<string>();
    for (const { flag, def } of optionEntries()) {
      assert.equal(flag, flagFor(def.env));
      assert.match(def.env, /^[A-Z][A-Z0-9_]*$/);
      for (const name of [def.env, ...(def.aliases?.env ?? [])]) {
        assert.ok(!envs.has(name), `duplicate env ${name}`);
        envs.add(name);
      }
      for (const name of [flag, ...(def.aliases?.flags ?? [])]) {
        assert.ok(!flags.has(name), `duplicate flag ${name}`);
        flags.add(name);
      }
    }
  });

  it('defaults parse back to themselves and satisfy their own kind', () => {
    for (const { key, def } of optionEntries()) {
      if (def.default === undefined) {
        assert.ok(def.required || def.kind.emptyClears || def.computeDefault, `${key} has no default`);
        continue;
      }
      const shown = def.kind.format(def.default);
      const raw = typeof shown === 'string' ? shown : JSON.stringify(shown);
      if (def.kind.type === 'key=value list') continue; // {} has no k=v text form
      const parsed = def.kind.parse(raw);
      assert.ok(parsed.ok, `${key}: default ${raw} does not parse`);
      assert.deepEqual(parsed.value, def.default, key);
    }
  });

  it('marks the webhook secrets', () => {
    assert.equal(OPTIONS.webhookUrl.secret, 'url-origin');
    assert.equal(OPTIONS.webhookHeaders.secret, 'map-values');
    assert.equal(OPTIONS.webhookProxy.secret, 'url-credentials');
  });
});
