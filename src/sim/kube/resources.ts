/**
 * The resource types the simulated API server knows. One table drives routing, discovery,
 * kubectl's short names and the `kind`/`apiVersion` stamped on stored objects.
 */
export interface SubresourceDef {
  name: string;
  /** The kind accepted/returned by the subresource (e.g. Eviction for pods/eviction). */
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

export interface ResourceDef {
  plural: string;
  singular: string;
  kind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
  shortNames: string[];
  categories?: string[];
  subresources: SubresourceDef[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

export const RESOURCES: readonly ResourceDef[] = [
  { plural: 'namespaces', singular: 'namespace', kind: 'Namespace', group: '', version: 'v1', namespaced: false, shortNames: ['ns'], subresources: [{ name: 'status', kind: 'Namespace', verbs: STATUS_VERBS }] },
  { plural: 'nodes', singular: 'node', kind: 'Node', group: '', version: 'v1', namespaced: false, shortNames: ['no'], subresources: [{ name: 'status', kind: 'Node', verbs: STATUS_VERBS }] },
  {
    plural: 'pods', singular: 'pod', kind: 'Pod', group: '', version: 'v1', namespaced: true, shortNames: ['po'], categories: ['all'],
    subresources: [
      { name: 'status', kind: 'Pod', verbs: STATUS_VERBS },
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
    ],
  },
  { plural: 'events', singular: 'event', kind: 'Event', group: '', version: 'v1', namespaced: true, shortNames: ['ev'], subresources: [] },
  { plural: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget', group: 'policy', version: 'v1', namespaced: true, shortNames: ['pdb'], subresources: [{ name: 'status', kind: 'PodDisruptionBudget', verbs: STATUS_VERBS }] },
  { plural: 'leases', singular: 'lease', kind: 'Lease', group: 'coordination.k8s.io', version: 'v1', namespaced: true, shortNames: [], subresources: [] },
  { plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', group: 'apps', version: 'v1', namespaced: true, shortNames: ['ds'], categories: ['all'], subresources: [{ name: 'status', kind: 'DaemonSet', verbs: STATUS_VERBS }] },
  { plural: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', group: 'apps', version: 'v1', namespaced: true, shortNames: ['rs'], categories: ['all'], subresources: [{ name: 'status', kind: 'ReplicaSet', verbs: STATUS_VERBS }] },
  // events.k8s.io/v1 events are a second view of core events in a real cluster; here they are a
  // separate collection, which is enough for clients that only write them.
  { plural: 'events', singular: 'event', kind: 'Event', group: 'events.k8s.io', version: 'v1', namespaced: true, shortNames: [], subresources: [] },
];

export const RESOURCE_VERBS = ALL_VERBS;

/** Store key of a resource type: core resources by plural, others by `plural.group`. */
export function storeKeyOf(def: ResourceDef): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}

export function apiVersionOf(def: { group: string; version: string }): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/** Resolves the in-process name used by SimKube's helpers ('pods', 'events.events.k8s.io'). */
export function resourceByStoreKey(key: string): ResourceDef | undefined {
  return RESOURCES.find((r) => storeKeyOf(r) === key);
}

export interface GroupVersion {
  group: string;
  version: string;
}

export function groupVersions(): GroupVersion[] {
  const seen = new Map<string, GroupVersion>();
  for (const r of RESOURCES) seen.set(apiVersionOf(r), { group: r.group, version: r.version });
  return [...seen.values()];
}
