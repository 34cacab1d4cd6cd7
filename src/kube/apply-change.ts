import type { NodeChange, NodeView } from './types.js';

/**
 * A NodeChange applied to a NodeView the way the API server applies our merge patch (null removes
 * a label or annotation). Used for DRY_RUN's in-memory overlay and by tests that follow steps.
 */
export function applyNodeChange(node: NodeView, change: NodeChange | undefined): NodeView {
  if (!change) return node;
  const merge = (base: Record<string, string>, delta?: Record<string, string | null>) => {
    const out = { ...base };
    for (const [k, v] of Object.entries(delta ?? {})) {
      if (v === null) delete out[k];
      else out[k] = v;
    }
    return out;
  };
  return {
    ...node,
    unschedulable: change.unschedulable ?? node.unschedulable,
    taints: change.taints ?? node.taints,
    labels: merge(node.labels, change.labels),
    annotations: merge(node.annotations, change.annotations),
  };
}
