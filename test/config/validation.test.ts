import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/schema.js';
import { loadConfigDetailed } from '../../src/config/load.js';
import { BASE_ENV, assertOneProblem, filesDeps, load, noFiles, problems } from './helpers.js';

const SPOT_GUARD_ENV = {
  ...BASE_ENV,
  ENABLE_SPOT_GUARD: 'true',
  ENABLE_REBALANCE_DRAINING: 'true',
  SPOT_ASG_NAME: 'workers-spot',
  ON_DEMAND_ASG_NAME: 'workers-od',
};

describe('single-option problems name env, flag, value and what is allowed', () => {
  it('unknown enum', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, TAINT_EFFECT: 'NoExecut' }),
      'invalid TAINT_EFFECT (--taint-effect): "NoExecut" is not one of NoSchedule, PreferNoSchedule, NoExecute',
    );
    assertOneProblem(
      problems(['--log-level', 'verbose']),
      'LOG_LEVEL (--log-level)',
      '"verbose"',
      'trace, debug, info, warn, error, fatal, silent',
    );
  });

  it('bad boolean', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, DRY_RUN: 'yes' }),
      'invalid DRY_RUN (--dry-run): "yes" is not a boolean',
      'true or false',
    );
    assertOneProblem(problems(['--taint-node=maybe']), 'TAINT_NODE (--taint-node)', '"maybe"');
  });

  it('non-numeric, negative and out-of-range numbers', () => {
    assertOneProblem(problems([], { ...BASE_ENV, METADATA_TRIES: 'three' }), 'METADATA_TRIES (--metadata-tries)', '"three"', 'an integer from 1 to 100');
    assertOneProblem(problems([], { ...BASE_ENV, METADATA_TRIES: '0' }), 'METADATA_TRIES', '"0"');
    assertOneProblem(problems([], { ...BASE_ENV, METADATA_TRIES: '2.5' }), 'METADATA_TRIES', '"2.5"');
    assertOneProblem(
      problems([], { ...BASE_ENV, NODE_TERMINATION_GRACE_PERIOD: '-5' }),
      'NODE_TERMINATION_GRACE_PERIOD (--node-termination-grace-period)',
      '"-5"',
      'an integer >= 1 (seconds)',
    );
    assertOneProblem(
      problems([], { ...BASE_ENV, NODE_TERMINATION_GRACE_PERIOD: '2m' }),
      'NODE_TERMINATION_GRACE_PERIOD',
      '"2m"',
    );
    assertOneProblem(
      problems([], { ...BASE_ENV, POD_TERMINATION_GRACE_PERIOD: '-2' }),
      'POD_TERMINATION_GRACE_PERIOD (--pod-termination-grace-period)',
      '"-2"',
      '-1',
    );
  });

  it('ports', () => {
    assertOneProblem(problems([], { ...BASE_ENV, PROMETHEUS_SERVER_PORT: '70000' }), 'PROMETHEUS_SERVER_PORT (--prometheus-server-port)', '"70000"', '1 to 65535');
    assertOneProblem(problems(['--probes-server-port', '0']), 'PROBES_SERVER_PORT (--probes-server-port)', '"0"');
    assertOneProblem(problems(['--probes-server-port', 'http']), 'PROBES_SERVER_PORT', '"http"');
  });

  it('bad durations', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, IMDS_POLL_INTERVAL: '2x' }),
      'invalid IMDS_POLL_INTERVAL (--imds-poll-interval): "2x" is not a duration',
      '90s, 2m, 1h30m, 500ms',
    );
    assertOneProblem(problems(['--spot-guard-scale-timeout', '-1s']), 'SPOT_GUARD_SCALE_TIMEOUT', '"-1s"');
    assertOneProblem(problems(['--spot-guard-scale-timeout', '2h']), 'SPOT_GUARD_SCALE_TIMEOUT', '"2h"', 'from 1s to 1h');
  });

  it('missing NODE_NAME', () => {
    assertOneProblem(problems([], {}), 'missing NODE_NAME (--node-name)', 'required');
  });

  it('invalid node name', () => {
    assertOneProblem(problems([], { NODE_NAME: 'Not_A_Node' }), 'NODE_NAME (--node-name)', '"Not_A_Node"');
  });

  it('malformed WEBHOOK_HEADERS without echoing the secret', () => {
    const p = problems([], { ...BASE_ENV, WEBHOOK_HEADERS: '{"Authorization": "Bearer s3cr3t"' })[0] ?? '';
    assert.ok(p.startsWith('invalid WEBHOOK_HEADERS (--webhook-headers):'), p);
    assert.ok(p.includes('is not valid JSON'), p);
    assert.ok(p.includes('JSON object of header names to string values'), p);
    assert.ok(!p.includes('s3cr3t'), p);
    assertOneProblem(problems([], { ...BASE_ENV, WEBHOOK_HEADERS: '["a"]' }), 'WEBHOOK_HEADERS', 'JSON object');
    assertOneProblem(problems([], { ...BASE_ENV, WEBHOOK_HEADERS: '{"X-Count": 3}' }), 'WEBHOOK_HEADERS', 'header "X-Count"');
  });

  it('malformed extra annotations', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, KUBERNETES_EVENTS_EXTRA_ANNOTATIONS: 'first=annotation,oops' }),
      'KUBERNETES_EVENTS_EXTRA_ANNOTATIONS (--kubernetes-events-extra-annotations)',
      '"first=annotation,oops"',
      '"oops" has no key=value',
    );
    assertOneProblem(
      problems([], { ...BASE_ENV, KUBERNETES_EVENTS_EXTRA_ANNOTATIONS: 'bad key=v' }),
      'KUBERNETES_EVENTS_EXTRA_ANNOTATIONS',
      'key "bad key"',
    );
  });

  it('bad URLs; a secret URL is shown redacted', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, INSTANCE_METADATA_URL: '169.254.169.254' }),
      'INSTANCE_METADATA_URL (--instance-metadata-url)',
      '"169.254.169.254"',
      'an http:// or https:// URL',
    );
    const p = problems([], { ...BASE_ENV, WEBHOOK_URL: 'ftp://hooks.example.com/T0/secret' })[0] ?? '';
    assert.ok(p.includes('WEBHOOK_URL (--webhook-url)'), p);
    assert.ok(p.includes('"ftp://hooks.example.com/***"'), p);
    assert.ok(!p.includes('secret'), p);
    assertOneProblem(problems([], { ...BASE_ENV, WEBHOOK_PROXY: 'tcp://proxy:3128' }), 'WEBHOOK_PROXY', 'http://');
  });

  it('unknown flag (commander)', () => {
    assertOneProblem(problems(['--taint-nodes']), "unknown option '--taint-nodes'");
  });

  it('a value-taking flag given bare', () => {
    assertOneProblem(problems(['--node-name']), 'argument missing');
  });

  it('names the alias the user wrote', () => {
    assertOneProblem(problems([], { ...BASE_ENV, GRACE_PERIOD: 'x' }), 'POD_TERMINATION_GRACE_PERIOD', 'set as GRACE_PERIOD', '"x"');
  });

  it('WEBHOOK_TEMPLATE_FILE must be readable', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, WEBHOOK_TEMPLATE_FILE: '/etc/nth/template.json' }),
      'WEBHOOK_TEMPLATE_FILE (--webhook-template-file)',
      '"/etc/nth/template.json"',
      'cannot be read',
    );
    const ok = load([], { ...BASE_ENV, WEBHOOK_TEMPLATE_FILE: '/t.json' }, filesDeps({ '/t.json': '{}' }));
    assert.equal(ok.config.webhookTemplateFile, '/t.json');
  });
});

describe('conflicting modes', () => {
  it('a complete Spot Guard configuration is valid', () => {
    const { config, warnings } = load([], SPOT_GUARD_ENV);
    assert.equal(config.enableSpotGuard, true);
    assert.deepEqual(warnings, []);
    assert.equal(load([], { ...SPOT_GUARD_ENV, ENABLE_REBALANCE_DRAINING: '', ENABLE_REBALANCE_MONITORING: 'true' }).config.enableSpotGuard, true);
  });

  it('ENABLE_SPOT_GUARD without the ASG names', () => {
    const found = problems([], { ...SPOT_GUARD_ENV, SPOT_ASG_NAME: '', ON_DEMAND_ASG_NAME: '' });
    assert.equal(found.length, 2, found.join('\n'));
    assert.ok(found[0]!.includes('ENABLE_SPOT_GUARD (--enable-spot-guard)') && found[0]!.includes('SPOT_ASG_NAME (--spot-asg-name)'));
    assert.ok(found[1]!.includes('ON_DEMAND_ASG_NAME (--on-demand-asg-name)'));
  });

  it('ENABLE_SPOT_GUARD without rebalance monitoring or draining', () => {
    assertOneProblem(
      problems([], { ...SPOT_GUARD_ENV, ENABLE_REBALANCE_DRAINING: 'false' }),
      'ENABLE_SPOT_GUARD (--enable-spot-guard)',
      'ENABLE_REBALANCE_MONITORING (--enable-rebalance-monitoring)',
      'ENABLE_REBALANCE_DRAINING (--enable-rebalance-draining)',
    );
  });

  it('SPOT_ASG_NAME == ON_DEMAND_ASG_NAME', () => {
    assertOneProblem(
      problems([], { ...SPOT_GUARD_ENV, ON_DEMAND_ASG_NAME: 'workers-spot' }),
      'SPOT_ASG_NAME (--spot-asg-name)',
      'ON_DEMAND_ASG_NAME (--on-demand-asg-name)',
      '"workers-spot"',
      'must be different',
    );
  });

  it('ENABLE_SPOT_GUARD with CORDON_ONLY', () => {
    assertOneProblem(problems(['--cordon-only'], SPOT_GUARD_ENV), 'CORDON_ONLY (--cordon-only)', 'ENABLE_SPOT_GUARD');
  });

  it('Spot Guard poll interval not shorter than its timeouts', () => {
    const found = problems(['--spot-guard-poll-interval', '2m'], SPOT_GUARD_ENV);
    assert.equal(found.length, 2, found.join('\n'));
    assert.ok(found[0]!.includes('SPOT_GUARD_POLL_INTERVAL (--spot-guard-poll-interval)'));
    assert.ok(found[0]!.includes('SPOT_GUARD_SCALE_TIMEOUT'));
    assert.ok(found[1]!.includes('SPOT_GUARD_CAPACITY_CHECK_TIMEOUT'));
  });

  it('WEBHOOK_TEMPLATE together with WEBHOOK_TEMPLATE_FILE', () => {
    assertOneProblem(
      problems(
        ['--webhook-template', '{"text":"{{ .Kind }}"}'],
        { ...BASE_ENV, WEBHOOK_URL: 'https://example.com/hook', WEBHOOK_TEMPLATE_FILE: '/t.json' },
        filesDeps({ '/t.json': '{}' }),
      ),
      'WEBHOOK_TEMPLATE (--webhook-template)',
      'WEBHOOK_TEMPLATE_FILE (--webhook-template-file)',
      'both set',
    );
  });

  it('queue-mode options are refused; false/empty values are fine', () => {
    assertOneProblem(
      problems([], { ...BASE_ENV, ENABLE_SQS_TERMINATION_DRAINING: 'true' }),
      'ENABLE_SQS_TERMINATION_DRAINING (--enable-sqs-termination-draining)',
      'queue mode is not supported by spot-guard',
    );
    assertOneProblem(
      problems(['--queue-url', 'https://sqs.us-east-1.amazonaws.com/123/q']),
      'QUEUE_URL (--queue-url)',
      'queue mode is not supported by spot-guard',
    );
    assertOneProblem(problems(['--enable-sqs-termination-draining']), 'queue mode is not supported by spot-guard');
    load([], { ...BASE_ENV, ENABLE_SQS_TERMINATION_DRAINING: 'false', QUEUE_URL: '' });
  });

  it('no monitor enabled at all', () => {
    assertOneProblem(
      problems(['--enable-spot-interruption-draining=false', '--enable-scheduled-event-draining=false']),
      'no monitor is enabled',
      'ENABLE_SPOT_INTERRUPTION_DRAINING (--enable-spot-interruption-draining)',
      'ENABLE_ASG_LIFECYCLE_DRAINING',
    );
    const onlyAsg = load(
      ['--enable-spot-interruption-draining=false', '--enable-scheduled-event-draining=false', '--enable-asg-lifecycle-draining'],
    );
    assert.equal(onlyAsg.config.enableAsgLifecycleDraining, true);
  });

  it('same port for Prometheus and probes while both are on', () => {
    assertOneProblem(
      problems(['--enable-prometheus-server', '--enable-probes-server', '--probes-server-port', '9092']),
      'PROMETHEUS_SERVER_PORT (--prometheus-server-port)',
      'PROBES_SERVER_PORT (--probes-server-port)',
      '9092',
    );
    load(['--enable-prometheus-server', '--probes-server-port', '9092']); // probes off: no clash
  });
});

describe('warnings for combinations NTH tolerated', () => {
  it('each produces a warning, not an error', () => {
    const { warnings } = load(['--cordon-only', '--enable-rebalance-draining', '--taint-effect', 'NoExecute'], {
      ...BASE_ENV,
      SPOT_ASG_NAME: 'a',
      KUBERNETES_EVENTS_EXTRA_ANNOTATIONS: 'a=b',
      WEBHOOK_HEADERS: '{"X":"y"}',
    });
    const want = ['SPOT_ASG_NAME', 'CORDON_ONLY', 'TAINT_EFFECT', 'KUBERNETES_EVENTS_EXTRA_ANNOTATIONS', 'WEBHOOK_HEADERS'];
    assert.equal(warnings.length, want.length, warnings.join('\n'));
    want.forEach((w, i) => assert.ok(warnings[i]!.startsWith(w), `${warnings[i]} should start with ${w}`));
  });
});

describe('several problems at once', () => {
  it('reports every problem, in table order, then the cross-option ones', () => {
    let error: unknown;
    try {
      loadConfigDetailed(
        ['--taint-effect', 'NoExecut', '--metadata-tries', '-1', '--imds-poll-interval', '2x'],
        { WEBHOOK_HEADERS: 'not json', QUEUE_URL: 'https://sqs/q', ENABLE_SPOT_GUARD: 'true', ENABLE_REBALANCE_DRAINING: 'true' },
        noFiles,
      );
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    const p = error.problems;
    assert.equal(p.length, 8, p.join('\n'));
    assert.ok(p[0]!.includes('NODE_NAME'));
    assert.ok(p[1]!.includes('METADATA_TRIES'));
    assert.ok(p[2]!.includes('TAINT_EFFECT'));
    assert.ok(p[3]!.includes('WEBHOOK_HEADERS'));
    assert.ok(p[4]!.includes('IMDS_POLL_INTERVAL'));
    assert.ok(p[5]!.includes('QUEUE_URL'));
    assert.ok(p[6]!.includes('SPOT_ASG_NAME'));
    assert.ok(p[7]!.includes('ON_DEMAND_ASG_NAME'));
    assert.ok(error.message.includes('8 problems'));
  });

  it('skips a cross-option rule when one of its options is already invalid', () => {
    const found = problems([], { ...SPOT_GUARD_ENV, SPOT_ASG_NAME: 'x\u0007y' });
    assertOneProblem(found, 'SPOT_ASG_NAME');
  });
});
