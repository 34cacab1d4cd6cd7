/**
 * RBAC is exactly what the agent uses. The Kubernetes API calls are found in src/ (every method of a
 * @kubernetes/client-node *Api class that the agent's code calls), mapped to (apiGroup, resource,
 * verb), and compared with the rules the chart renders — in NTH mode, with Spot Guard, with events.
 * A new API call without a rule, or a rule no call needs, fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { EVENTS_NAMESPACE } from '../../src/observability/k8s-events.js';
import { RELEASE, find, renderChart, type K8sObject } from './helm.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Which rule each client-node method the agent calls needs. */
const RULE_OF: Record<string, { group: string; resource: string; verb: string }> = {
  readNode: { group: '', resource: 'nodes', verb: 'get' },
  listNode: { group: '', resource: 'nodes', verb: 'list' },
  patchNode: { group: '', resource: 'nodes', verb: 'patch' },
  listPodForAllNamespaces: { group: '', resource: 'pods', verb: 'list' },
  createNamespacedPodEviction: { group: '', resource: 'pods/eviction', verb: 'create' },
  readNamespacedLease: { group: 'coordination.k8s.io', resource: 'leases', verb: 'get' },
  createNamespacedLease: { group: 'coordination.k8s.io', resource: 'leases', verb: 'create' },
  replaceNamespacedLease: { group: 'coordination.k8s.io', resource: 'leases', verb: 'update' },
  createNamespacedEvent: { group: '', resource: 'events', verb: 'create' },
  patchNamespacedEvent: { group: '', resource: 'events', verb: 'patch' },
};

/** Code that runs only with Spot Guard on (its rules come with spotGuard.enabled). */
const SPOT_GUARD_ONLY = [/^capacity\//, /^kube\/lease-lock\.ts$/, /^kube\/lease-semaphore\.ts$/];
/** Code that runs only with EMIT_KUBERNETES_EVENTS (rules with emitKubernetesEvents). */
const EVENTS_ONLY = [/^observability\/k8s-events\.ts$/];
/** Port methods (src/kube/types.ts) whose client-node call is made on behalf of Spot Guard only. */
const SPOT_GUARD_PORT_METHODS: Record<string, string> = { listNodes: 'listNode' };
const PORT_DEFINITIONS = [/^kube\/kube-api\.ts$/, /^kube\/dry-run\.ts$/, /^kube\/types\.ts$/];

function apiMethodNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, value] of Object.entries(k8s)) {
    // KubernetesObjectApi's generic create/patch/delete would match any .create( in the code; its use
    // is refused separately (see usedRules).
    if (!name.endsWith('Api') || typeof value !== 'function' || name === 'KubernetesObjectApi') continue;
    for (const m of Object.getOwnPropertyNames((value as { prototype: object }).prototype)) if (m !== 'constructor') names.add(m);
  }
  return names;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'sim' && dir === SRC ? [] : sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

type Mode = 'always' | 'spot-guard' | 'events';
const key = (group: string, resource: string, verb: string) => `${group}/${resource}:${verb}`;

/** Every client-node call in src/ (the simulated world excluded) and the mode that makes it. */
function usedRules(): Map<string, Mode> {
  const api = apiMethodNames();
  const used = new Map<string, Mode>();
  const unknown: string[] = [];
  const add = (k: string, mode: Mode) => {
    const prev = used.get(k);
    if (prev === undefined || mode === 'always') used.set(k, mode);
  };
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file).split('\\').join('/');
    const text = readFileSync(file, 'utf8');
    if (text.includes('KubernetesObjectApi')) unknown.push(`${rel}: KubernetesObjectApi (generic calls cannot be checked)`);
    const mode: Mode = SPOT_GUARD_ONLY.some((r) => r.test(rel)) ? 'spot-guard' : EVENTS_ONLY.some((r) => r.test(rel)) ? 'events' : 'always';
    for (const m of text.matchAll(/\.([a-zA-Z]+)\(/g)) {
      const method = m[1]!;
      if (!api.has(method)) continue;
      const rule = RULE_OF[method];
      if (!rule) {
        unknown.push(`${rel}: ${method}`);
        continue;
      }
      // A port method's client-node call (in kube-api.ts) takes the mode of the port method's callers.
      const viaPort = Object.entries(SPOT_GUARD_PORT_METHODS).find(([, client]) => client === method);
      add(key(rule.group, rule.resource, rule.verb), viaPort && PORT_DEFINITIONS.some((r) => r.test(rel)) ? 'spot-guard' : mode);
    }
  }
  assert.deepEqual(unknown, [], 'Kubernetes API calls without an RBAC rule in test/chart/rbac.test.ts RULE_OF (add one, and to the chart)');
  return used;
}

function callersOf(portMethod: string): string[] {
  return sourceFiles(SRC)
    .map((f) => relative(SRC, f).split('\\').join('/'))
    .filter((rel) => !PORT_DEFINITIONS.some((r) => r.test(rel)))
    .filter((rel) => readFileSync(join(SRC, rel), 'utf8').includes(`.${portMethod}(`));
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function grantedRules(objects: K8sObject[]): { clusterWide: Set<string>; byNamespace: Map<string, Set<string>> } {
  const expand = (rules: Rule[]) =>
    rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => key(g, res, v)))));
  const clusterWide = new Set(find(objects, 'ClusterRole').flatMap((o) => expand(o.rules as Rule[])));
  const byNamespace = new Map<string, Set<string>>();
  for (const role of find(objects, 'Role')) {
    const ns = role.metadata.namespace ?? '';
    byNamespace.set(ns, new Set([...(byNamespace.get(ns) ?? []), ...expand(role.rules as Rule[])]));
  }
  return { clusterWide, byNamespace };
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe('RBAC = the API calls the agent makes', () => {
  const used = usedRules();
  const inMode = (...modes: Mode[]) => sorted([...used].filter(([, m]) => modes.includes(m)).map(([k]) => k));
  const LEASES = (k: string) => k.startsWith('coordination.k8s.io/leases:');
  const EVENTS = (k: string) => k.startsWith('/events:');

  it('the scan finds the calls we know of', () => {
    assert.deepEqual(inMode('always'), ['/nodes:get', '/nodes:patch', '/pods/eviction:create', '/pods:list']);
    assert.ok(inMode('spot-guard').includes('/nodes:list'));
    assert.deepEqual(callersOf('listNodes').filter((f) => !SPOT_GUARD_ONLY.some((r) => r.test(f))), [], 'listNodes is Spot Guard only');
  });

  it('NTH mode (default values): a ClusterRole with exactly nodes get/patch, pods list, pods/eviction create; no Role', () => {
    const { objects } = renderChart({});
    const { clusterWide, byNamespace } = grantedRules(objects);
    assert.deepEqual(sorted(clusterWide), inMode('always'));
    assert.equal(byNamespace.size, 0);
  });

  it('Spot Guard: + nodes list cluster-wide, + leases get/create/update in the release namespace only', () => {
    const { objects } = renderChart({
      enableRebalanceDraining: true,
      spotGuard: { enabled: true, spotAsgName: 'spot', onDemandAsgName: 'od' },
    });
    const { clusterWide, byNamespace } = grantedRules(objects);
    assert.deepEqual(sorted(clusterWide), sorted([...inMode('always', 'spot-guard')].filter((k) => !LEASES(k))));
    assert.deepEqual([...byNamespace.keys()], [RELEASE.namespace]);
    assert.deepEqual(sorted(byNamespace.get(RELEASE.namespace)!), inMode('spot-guard').filter(LEASES));
    assert.deepEqual(inMode('spot-guard').filter(LEASES), [
      'coordination.k8s.io/leases:create',
      'coordination.k8s.io/leases:get',
      'coordination.k8s.io/leases:update',
    ]);
  });

  it(`events: create/patch in namespace "${EVENTS_NAMESPACE}" only (where the agent writes Node events)`, () => {
    const { objects } = renderChart({ emitKubernetesEvents: true });
    const { clusterWide, byNamespace } = grantedRules(objects);
    assert.deepEqual(sorted(clusterWide), inMode('always'));
    assert.deepEqual([...byNamespace.keys()], [EVENTS_NAMESPACE]);
    assert.deepEqual(sorted(byNamespace.get(EVENTS_NAMESPACE)!), inMode('events').filter(EVENTS));
    assert.deepEqual(inMode('events'), ['/events:create', '/events:patch']);
  });

  it('no wildcard, no secrets, no delete anywhere; bindings point at the chart service account', () => {
    const { objects } = renderChart({
      emitKubernetesEvents: true,
      enableRebalanceDraining: true,
      spotGuard: { enabled: true, spotAsgName: 'spot', onDemandAsgName: 'od' },
    });
    const text = JSON.stringify([...find(objects, 'ClusterRole'), ...find(objects, 'Role')]);
    assert.ok(!text.includes('"*"'));
    assert.ok(!/secrets|"delete"|deletecollection|escalate|bind|impersonate/.test(text));
    const sa = find(objects, 'ServiceAccount')[0]!;
    for (const b of [...find(objects, 'ClusterRoleBinding'), ...find(objects, 'RoleBinding')]) {
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: RELEASE.namespace }]);
      const roleRef = b.roleRef as { kind: string; name: string };
      assert.ok(objects.some((o) => o.kind === roleRef.kind && o.metadata.name === roleRef.name && (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace)));
    }
  });

  it('rbac.create=false renders no RBAC objects', () => {
    const { objects } = renderChart({ rbac: { create: false }, emitKubernetesEvents: true });
    assert.deepEqual(objects.filter((o) => /Role/.test(o.kind)), []);
  });
});
