/**
 * Server-side printing: kubectl get asks for `as=Table` and prints whatever columns the server
 * sends. A few columns per type make `kubectl get nodes / pods` readable in demos and debugging.
 */
import type { ResourceDef } from './resources.js';
import { hasCondition, isTerminating, phaseOf } from './pod-state.js';
import type { KubeObject, Node, Pod, StoredObject } from './types.js';

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell: (obj: StoredObject, now: number) => unknown;
}

export function wantsTable(accept: string | undefined): boolean {
  return Boolean(accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept));
}

export function humanAge(fromIso: string | undefined, now: number): string {
  if (!fromIso) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name };
const AGE: Column = { name: 'Age', type: 'string', cell: (o, now) => humanAge(o.metadata.creationTimestamp, now) };

const NODE_COLUMNS: Column[] = [
  NAME,
  {
    name: 'Status',
    type: 'string',
    cell: (o) => {
      const n = o as Node;
      const ready = hasCondition(n.status?.conditions, 'Ready') ? 'Ready' : 'NotReady';
      return n.spec?.unschedulable ? `${ready},SchedulingDisabled` : ready;
    },
  },
  {
    name: 'Roles',
    type: 'string',
    cell: (o) => {
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length));
      return roles.length ? roles.join(',') : '<none>';
    },
  },
  AGE,
  { name: 'Version', type: 'string', cell: (o) => ((o as Node).status?.nodeInfo as { kubeletVersion?: string } | undefined)?.kubeletVersion ?? '' },
];

const POD_COLUMNS: Column[] = [
  NAME,
  {
    name: 'Ready',
    type: 'string',
    cell: (o) => {
      const p = o as Pod;
      const statuses = (p.status?.containerStatuses as { ready?: boolean }[] | undefined) ?? [];
      return `${statuses.filter((c) => c.ready).length}/${(p.spec?.containers ?? []).length}`;
    },
  },
  { name: 'Status', type: 'string', cell: (o) => (isTerminating(o) ? 'Terminating' : phaseOf(o as Pod)) },
  { name: 'Restarts', type: 'string', cell: () => '0' },
  AGE,
  { name: 'IP', type: 'string', priority: 1, cell: (o) => ((o as Pod).status?.podIP as string | undefined) ?? '<none>' },
  { name: 'Node', type: 'string', priority: 1, cell: (o) => (o as Pod).spec?.nodeName ?? '<none>' },
];

const PDB_COLUMNS: Column[] = [
  NAME,
  { name: 'Min Available', type: 'string', cell: (o) => String((o.spec as { minAvailable?: unknown })?.minAvailable ?? 'N/A') },
  { name: 'Max Unavailable', type: 'string', cell: (o) => String((o.spec as { maxUnavailable?: unknown })?.maxUnavailable ?? 'N/A') },
  { name: 'Allowed Disruptions', type: 'integer', cell: (o) => (o.status as { disruptionsAllowed?: number } | undefined)?.disruptionsAllowed ?? 0 },
  AGE,
];

function columnsFor(def: ResourceDef): Column[] {
  if (def.group === '' && def.plural === 'nodes') return NODE_COLUMNS;
  if (def.group === '' && def.plural === 'pods') return POD_COLUMNS;
  if (def.plural === 'poddisruptionbudgets') return PDB_COLUMNS;
  return [NAME, AGE];
}

export function toTable(def: ResourceDef, objects: StoredObject[], listMeta: Record<string, unknown>, now: number): KubeObject {
  const columns = columnsFor(def);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
