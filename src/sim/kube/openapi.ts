/**
 * Just enough OpenAPI v3 for kubectl's write path. kubectl (1.27+) validates manifests server-side
 * when the server's OpenAPI v3 document shows that an operation accepts the `fieldValidation`
 * parameter; otherwise it needs full schemas to validate client-side. So we publish operations
 * with their `x-kubernetes-group-version-kind` and that parameter, and no schemas. The server then
 * accepts `fieldValidation` and, being a simulator, does not reject unknown fields.
 * /openapi/v2 is not served (kubectl fetches it as protobuf, only for apply/explain).
 */
import type { ResourceDef } from './resources.js';
import { groupVersions, RESOURCES } from './resources.js';

const HASH = 'sim0000000000000000000000000000000000000000000000000000000000000000';

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function operation(def: ResourceDef, action: string): Record<string, unknown> {
  return {
    operationId: `${action}${def.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: def.group, version: def.version, kind: def.kind },
    parameters: [
      { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
    ],
    responses: { '200': { description: 'OK' } },
  };
}

function gvDocument(group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const def of RESOURCES.filter((r) => r.group === group && r.version === version)) {
    const base = `/${gvPath(group, version)}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.plural}`;
    paths[base] = { get: operation(def, 'list'), post: operation(def, 'post') };
    paths[`${base}/{name}`] = {
      get: operation(def, 'get'),
      put: operation(def, 'put'),
      patch: operation(def, 'patch'),
      delete: operation(def, 'delete'),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes (simulated)', version: 'v1.32.0-sim' },
    paths,
    components: { schemas: {} },
  };
}

/** The document at /openapi/<segs…>, or undefined for 404. */
export function openApiDocument(segs: string[]): Record<string, unknown> | undefined {
  if (segs[0] !== 'v3') return undefined;
  const rest = segs.slice(1);
  if (rest.length === 0) {
    const paths: Record<string, unknown> = {};
    for (const gv of groupVersions()) {
      const p = gvPath(gv.group, gv.version);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${HASH}` };
    }
    return { paths };
  }
  const gv = groupVersions().find((g) => gvPath(g.group, g.version) === rest.join('/'));
  return gv ? gvDocument(gv.group, gv.version) : undefined;
}
