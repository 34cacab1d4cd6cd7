import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { GoTime, TemplateError } from '../../src/observability/go-template.js';
import type { Notification } from '../../src/observability/notifier.js';
import { NTH_DEFAULT_WEBHOOK_TEMPLATE, compileWebhookTemplate, webhookData } from '../../src/observability/webhook-template.js';

const MD = {
  instanceId: 'i-0123456789abcdef0',
  instanceType: 'm5.large',
  availabilityZone: 'us-east-1a',
  region: 'us-east-1',
  accountId: '123456789012',
  privateIp: '10.0.0.7',
  lifeCycle: 'spot',
  localHostname: 'ip-10-0-0-7.ec2.internal',
};

const DRAINED: Notification = {
  reason: 'CordonAndDrain',
  type: 'Normal',
  message: 'node ip-10-0-0-7.ec2.internal drained: 3 pods evicted',
  nodeName: 'ip-10-0-0-7.ec2.internal',
  at: Date.parse('2025-01-01T00:00:12.340Z'),
  event: {
    id: 'spot-itn-3c2a5fa1a15c1a2f',
    kind: 'SPOT_ITN',
    startTime: '2025-01-01T00:02:00.000Z',
    description: 'Spot ITN received. Instance will be interrupted (terminate) at 2025-01-01T00:02:00.000Z',
    phase: 'Draining',
  },
};

const render = (tpl: string, n: Notification = DRAINED, extra: { pods?: string[]; nodeLabels?: Record<string, string> } = {}) =>
  compileWebhookTemplate(tpl).render(webhookData(n, { metadata: MD, ...extra }));

describe('webhook templates: NTH compatibility', () => {
  it("NTH's default template renders as NTH renders it (Go time.Time String for StartTime)", () => {
    assert.equal(
      render(NTH_DEFAULT_WEBHOOK_TEMPLATE),
      '{"text":"[NTH][Instance Interruption] EventID: spot-itn-3c2a5fa1a15c1a2f - Kind: SPOT_ITN - Instance: i-0123456789abcdef0 - ' +
        'Node: ip-10-0-0-7.ec2.internal - Description: Spot ITN received. Instance will be interrupted (terminate) at 2025-01-01T00:02:00.000Z - ' +
        'Start Time: 2025-01-01 00:02:00 +0000 UTC"}',
    );
    assert.doesNotThrow(() => JSON.parse(render(NTH_DEFAULT_WEBHOOK_TEMPLATE)), 'Slack-compatible JSON');
  });

  it("NTH's own e2e (Chime) template renders identically", () => {
    // test/e2e/webhook-test in aws-node-termination-handler (helm --set unescaped)
    const chime =
      '{"Content":"[NTH][Instance Interruption] InstanceId: {{ .InstanceID }} - Node: {{ .NodeName }} - InstanceType: {{ .InstanceType }} -  AvailabilityZone: {{ .AvailabilityZone }} - Kind: {{ .Kind }} - Start Time: {{ .StartTime }}"}';
    assert.equal(
      render(chime),
      '{"Content":"[NTH][Instance Interruption] InstanceId: i-0123456789abcdef0 - Node: ip-10-0-0-7.ec2.internal - InstanceType: m5.large -  ' +
        'AvailabilityZone: us-east-1a - Kind: SPOT_ITN - Start Time: 2025-01-01 00:02:00 +0000 UTC"}',
    );
  });

  it('a community Slack template with AccountId and Pods ([]string prints as [a b]) renders identically', () => {
    const slack =
      '{"text": ":rotating_light: *The instance is about to be interrupted.* :rotating_light:\\n*_Account:_* `{{ .AccountId }}`\\n' +
      '*_Instance ID:_* `{{ .InstanceID }}`\\n*_Node Name:_* `{{ .NodeName }}`\\n*_Instance Type:_* `{{ .InstanceType }}`\\n' +
      '*_Start Time:_* `{{ .StartTime }}`\\n*_Description:_* {{ .Description }}\\n*_Affected Pod(s):_* `{{ .Pods }}`"}';
    const out = render(slack, DRAINED, { pods: ['web-cf8jb', 'worker-5kmmb'] });
    assert.equal(
      out,
      '{"text": ":rotating_light: *The instance is about to be interrupted.* :rotating_light:\\n*_Account:_* `123456789012`\\n' +
        '*_Instance ID:_* `i-0123456789abcdef0`\\n*_Node Name:_* `ip-10-0-0-7.ec2.internal`\\n*_Instance Type:_* `m5.large`\\n' +
        '*_Start Time:_* `2025-01-01 00:02:00 +0000 UTC`\\n*_Description:_* Spot ITN received. Instance will be interrupted (terminate) at 2025-01-01T00:02:00.000Z\\n' +
        '*_Affected Pod(s):_* `[web-cf8jb worker-5kmmb]`"}',
    );
    assert.equal((JSON.parse(out) as { text: string }).text.split('\n').length, 8);
  });

  it('all of NTH\'s variables exist (NodeMetadata + InterruptionEvent), with NTH\'s values in IMDS mode', () => {
    const all =
      '{{ .AccountId }}|{{ .InstanceID }}|{{ .InstanceLifeCycle }}|{{ .InstanceType }}|{{ .PublicHostname }}|{{ .PublicIP }}|{{ .LocalHostname }}|' +
      '{{ .LocalIP }}|{{ .AvailabilityZone }}|{{ .Region }}|{{ .EventID }}|{{ .Kind }}|{{ .Monitor }}|{{ .State }}|{{ .AutoScalingGroupName }}|' +
      '{{ .NodeName }}|{{ .NodeLabels }}|{{ .Pods }}|{{ .ProviderID }}|{{ .IsManaged }}|{{ .EndTime }}|{{ .NodeProcessed }}|{{ .InProgress }}';
    assert.equal(
      render(all, DRAINED, { nodeLabels: { 'node.kubernetes.io/instance-type': 'm5.large', app: 'x' } }),
      '123456789012|i-0123456789abcdef0|spot|m5.large|||ip-10-0-0-7.ec2.internal|10.0.0.7|us-east-1a|us-east-1|spot-itn-3c2a5fa1a15c1a2f|SPOT_ITN|' +
        'SPOT_ITN_MONITOR|||ip-10-0-0-7.ec2.internal|map[app:x node.kubernetes.io/instance-type:m5.large]|[]|aws:///us-east-1a/i-0123456789abcdef0|' +
        'false|0001-01-01 00:00:00 +0000 UTC|true|false',
    );
  });

  it("Spot Guard steps: .Description is '<Reason>: <message>' so NTH's default template says what happened; own variables too", () => {
    const n: Notification = { ...DRAINED, reason: 'SpotGuardFallback', type: 'Warning', group: 'od-asg', message: 'spot unavailable; requested an on-demand replacement' };
    assert.match(render(NTH_DEFAULT_WEBHOOK_TEMPLATE, n), /Description: SpotGuardFallback: spot unavailable; requested an on-demand replacement - /);
    assert.equal(render('{{ .Reason }} {{ .Type }} {{ .Group }} {{ .AutoScalingGroupName }} {{ .Phase }} {{ .Time }}', n), 'SpotGuardFallback Warning od-asg od-asg Draining 2025-01-01 00:00:12.34 +0000 UTC');
  });
});

describe('webhook templates: the supported subset', () => {
  it('trim markers, comments, if / else if / else, range / else, with, pipelines and functions', () => {
    const tpl = `{{- /* a comment */ -}}
      {{ if eq .Kind "SCHEDULED_EVENT" }}maintenance{{ else if eq .Kind "SPOT_ITN" }}itn{{ else }}other{{ end }}
      {{- range .Pods }} <{{ . }}>{{ else }} no pods{{ end }}
      {{- with .NodeLabels }} zone={{ index . "zone" }}{{ end }} {{ .Pods | join ", " | upper }} {{ len .Pods }}
      {{- printf " %s/%q" .Region .Kind }} {{ .Description | toJson }} {{ .PublicIP | default "none" }} {{ .NodeLabels.missing }}`;
    assert.equal(
      render(tpl, DRAINED, { pods: ['a', 'b'], nodeLabels: { zone: 'us-east-1a' } }),
      'itn <a> <b> zone=us-east-1a A, B 2 us-east-1/"SPOT_ITN" "Spot ITN received. Instance will be interrupted (terminate) at 2025-01-01T00:02:00.000Z" none <no value>',
    );
    assert.equal(render('{{ range .Pods }}x{{ else }}none{{ end }}'), 'none');
    assert.equal(render('{{ js "a\\"b<c" }}'), 'a\\"b\\u003Cc');
  });

  it('Go time formatting: fractional seconds trimmed like Go', () => {
    assert.equal(new GoTime(Date.parse('2019-01-21T09:00:43.500Z')).toString(), '2019-01-21 09:00:43.5 +0000 UTC');
    assert.equal(new GoTime(Date.parse('2019-01-21T09:00:43Z'), 'GMT').toString(), '2019-01-21 09:00:43 +0000 GMT');
    assert.equal(GoTime.zero().toString(), '0001-01-01 00:00:00 +0000 UTC');
  });

  it('reports what it reads, so pod names and labels are only fetched when used', () => {
    assert.deepEqual([...compileWebhookTemplate(NTH_DEFAULT_WEBHOOK_TEMPLATE).fields].sort(), ['Description', 'EventID', 'InstanceID', 'Kind', 'NodeName', 'StartTime']);
    assert.ok(compileWebhookTemplate('{{ if .Pods }}{{ range .Pods }}{{ . }}{{ end }}{{ end }}').fields.has('Pods'));
  });

  const refused: [string, RegExp][] = [
    ['{{ .Nope }}', /line 1: can't evaluate field Nope/],
    ['{{.cat}}', /can't evaluate field cat/], // NTH's own "execution error" case
    ['{{ ', /unclosed action/], // NTH's own "parse error" case
    ['line one\n{{ if .Kind }}x', /missing \{\{ end \}\}/],
    ['{{ end }}', /unexpected \{\{ end \}\}/],
    ['{{ $x := .Kind }}{{ $x }}', /variables are not supported/],
    ['{{ .Kind.Sub }}', /can't evaluate field Sub in type string/],
    ['{{ range .Pods }}{{ .Kind }}{{ end }}', /can't evaluate field Kind in type string/],
    ['{{ .StartTime.Format "2006" }}', /method calls .* not supported/],
    ['{{ template "x" }}', /\{\{ template \}\} is not supported/],
    ['{{ sha256sum .Kind }}', /function "sha256sum" not defined/],
    ['{{ index .Pods }}', /wrong number of args for index/],
    ['{{ "unterminated }}', /unterminated string|unclosed action/],
  ];
  for (const [tpl, why] of refused) {
    it(`refuses ${JSON.stringify(tpl)} at compile time`, () => {
      assert.throws(() => compileWebhookTemplate(tpl), (err: unknown) => err instanceof TemplateError && why.test(err.message));
    });
  }
});

describe('webhook configuration at startup', () => {
  const base = { NODE_NAME: 'n1', WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/xyz' };

  it('a broken WEBHOOK_TEMPLATE is a configuration error naming the option and the problem', () => {
    assert.throws(
      () => loadConfig([], { ...base, WEBHOOK_TEMPLATE: '{"text":"{{ .EventId }}"}' }),
      (err: unknown) => err instanceof ConfigError && /invalid WEBHOOK_TEMPLATE .*can't evaluate field EventId/.test(err.message),
    );
  });

  it('a broken WEBHOOK_TEMPLATE_FILE too; a good one passes', () => {
    const files: Record<string, string> = { '/t/bad.tmpl': '{{ if .Kind }}', '/t/good.tmpl': NTH_DEFAULT_WEBHOOK_TEMPLATE };
    const deps = { readFile: (p: string) => files[p] };
    assert.throws(() => loadConfig([], { ...base, WEBHOOK_TEMPLATE_FILE: '/t/bad.tmpl' }, deps), /invalid WEBHOOK_TEMPLATE_FILE .*missing \{\{ end \}\}/);
    assert.equal(loadConfig([], { ...base, WEBHOOK_TEMPLATE_FILE: '/t/good.tmpl' }, deps).webhookTemplateFile, '/t/good.tmpl');
  });

  it('WEBHOOK_URL_FILE: the URL comes from a mounted secret file; never shown when invalid; not with WEBHOOK_URL', () => {
    const files: Record<string, string> = { '/s/url': 'https://hooks.example.com/T/secret-path\n', '/s/bad': 'not a url with secret-token' };
    const deps = { readFile: (p: string) => files[p] };
    assert.equal(loadConfig([], { NODE_NAME: 'n1', WEBHOOK_URL_FILE: '/s/url' }, deps).webhookUrl, 'https://hooks.example.com/T/secret-path');
    assert.throws(
      () => loadConfig([], { NODE_NAME: 'n1', WEBHOOK_URL_FILE: '/s/bad' }, deps),
      (err: unknown) => err instanceof ConfigError && /WEBHOOK_URL_FILE/.test(err.message) && !err.message.includes('secret-token'),
    );
    assert.throws(() => loadConfig([], { NODE_NAME: 'n1', WEBHOOK_URL_FILE: '/s/missing' }, deps), /cannot be read/);
    assert.throws(() => loadConfig([], { ...base, WEBHOOK_URL_FILE: '/s/url' }, deps), /WEBHOOK_URL \(--webhook-url\) and WEBHOOK_URL_FILE .* are both set/);
  });
});
