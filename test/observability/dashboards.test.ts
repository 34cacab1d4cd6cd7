import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { Metrics } from '../../src/observability/metrics.js';

/** Cheap drift guards: the alerts, the dashboard and the docs name only metrics the agent exports. */

const root = new URL('../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

async function exported(): Promise<Set<string>> {
  const metrics = new Metrics({ processMetrics: true });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

/** Metric names in a PromQL expression (ours and the process ones), ignoring functions and labels. */
function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  return [...noStrings.matchAll(/\b(actions_total|events_error_total|spot_guard_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe('docs/observability drift guards', () => {
  it('every PrometheusRule expression references only exported metrics, and covers the required alerts', async () => {
    const names = await exported();
    const rule = parse(read('docs/observability/prometheusrule.yaml')) as {
      kind: string;
      spec: { groups: { rules: { alert: string; expr: string }[] }[] };
    };
    assert.equal(rule.kind, 'PrometheusRule');
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    for (const r of rules) {
      const used = metricNames(r.expr);
      if (r.alert !== 'SpotGuardAgentDown') assert.ok(used.length > 0, `${r.alert} uses a Spot Guard metric`);
      for (const m of used) assert.ok(names.has(m), `${r.alert}: ${m} is not exported`);
    }
    const alerts = rules.map((r) => r.alert);
    for (const a of ['SpotGuardFallbackToOnDemand', 'SpotGuardNoCapacity', 'SpotGuardDrainsFailing', 'SpotGuardAgentUnhealthy']) assert.ok(alerts.includes(a), a);
  });

  it('the Grafana dashboard parses and references only exported metrics', async () => {
    const names = await exported();
    const dash = JSON.parse(read('docs/observability/grafana-dashboard.json')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const used = new Set<string>();
    for (const p of dash.panels) {
      for (const t of p.targets ?? []) {
        for (const m of metricNames(t.expr)) {
          assert.ok(names.has(m), `panel "${p.title}": ${m} is not exported`);
          used.add(m.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    for (const key of ['actions_total', 'spot_guard_fallbacks_total', 'spot_guard_replacement_ready_seconds', 'spot_guard_reverts_total']) {
      assert.ok(used.has(key), `dashboard shows ${key}`);
    }
  });

  it('docs/observability.md documents every metric the agent exports (process metrics aside)', async () => {
    const doc = read('docs/observability.md');
    const metrics = new Metrics();
    for (const m of await metrics.registry.getMetricsAsJSON()) assert.ok(doc.includes(`\`${m.name}\``), `${m.name} documented`);
  });
});
