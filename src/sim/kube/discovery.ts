/**
 * Discovery documents: /version, /api, /apis, and one APIResourceList per group version.
 * kubectl 1.32 asks for aggregated discovery (apidiscovery.k8s.io/v2) first; we serve that too so
 * it needs one round trip instead of one per group version.
 */
import type { ResourceDef } from './resources.js';
import { apiVersionOf, groupVersions, RESOURCE_VERBS, RESOURCES } from './resources.js';

export const SIM_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export const AGGREGATED_DISCOVERY_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupsExceptCore(): { name: string; versions: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions()) {
    if (gv.group === '') continue;
    const vs = groups.get(gv.group) ?? [];
    if (!vs.includes(gv.version)) vs.push(gv.version);
    groups.set(gv.group, vs);
  }
  return [...groups.entries()].map(([name, versions]) => ({ name, versions }));
}

export function apiGroupList(): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupsExceptCore().map(({ name, versions }) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

export function apiGroup(group: string): Record<string, unknown> | undefined {
  const g = groupsExceptCore().find((x) => x.name === group);
  if (!g) return undefined;
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: g.name,
    versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${g.name}/${g.versions[0]}`, version: g.versions[0] },
  };
}

function resourcesOf(group: string, version: string): ResourceDef[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

export function apiResourceList(group: string, version: string): Record<string, unknown> | undefined {
  const defs = resourcesOf(group, version);
  if (defs.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const r of defs) {
    const entry: Record<string, unknown> = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: RESOURCE_VERBS,
    };
    if (r.shortNames.length) entry.shortNames = r.shortNames;
    if (r.categories) entry.categories = r.categories;
    resources.push(entry);
    for (const sub of r.subresources) {
      const s: Record<string, unknown> = { name: `${r.plural}/${sub.name}`, singularName: '', namespaced: r.namespaced, kind: sub.kind, verbs: sub.verbs };
      // kubectl drain looks for pods/eviction with group policy to decide it may use the Eviction API.
      if (sub.group !== undefined) s.group = sub.group;
      if (sub.version !== undefined) s.version = sub.version;
      resources.push(s);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}

function discoveryVersion(group: string, version: string): Record<string, unknown> {
  return {
    version,
    freshness: 'Current',
    resources: resourcesOf(group, version).map((r) => {
      const res: Record<string, unknown> = {
        resource: r.plural,
        responseKind: { group, version, kind: r.kind },
        scope: r.namespaced ? 'Namespaced' : 'Cluster',
        singularResource: r.singular,
        verbs: RESOURCE_VERBS,
      };
      if (r.shortNames.length) res.shortNames = r.shortNames;
      if (r.categories) res.categories = r.categories;
      if (r.subresources.length) {
        res.subresources = r.subresources.map((s) => ({
          subresource: s.name,
          responseKind: { group: s.group ?? group, version: s.version ?? version, kind: s.kind },
          verbs: s.verbs,
        }));
      }
      return res;
    }),
  };
}

/** Aggregated discovery for /api (core) or /apis (all named groups). */
export function aggregatedDiscovery(core: boolean): Record<string, unknown> {
  const items = core
    ? [{ metadata: { creationTimestamp: null }, versions: [discoveryVersion('', 'v1')] }]
    : groupsExceptCore().map(({ name, versions }) => ({
        metadata: { name, creationTimestamp: null },
        versions: versions.map((v) => discoveryVersion(name, v)),
      }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('g=apidiscovery.k8s.io') && params.includes('v=v2') && params.includes('as=APIGroupDiscoveryList');
  });
}
