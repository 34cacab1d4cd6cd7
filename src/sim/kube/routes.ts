/** Maps API paths onto (resource, namespace, name, subresource). */
import type { ResourceDef } from './resources.js';
import { findResource } from './resources.js';

export interface ResourceRoute {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export type Route =
  | { kind: 'resource'; route: ResourceRoute }
  | { kind: 'unknown-resource'; group: string; version: string; plural: string }
  | { kind: 'other' };

function decode(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

export function parseResourcePath(pathname: string): Route {
  const segs = pathname.split('/').filter((s) => s !== '').map(decode);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) {
    group = '';
    version = segs[1] as string;
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1] as string;
    version = segs[2] as string;
    rest = segs.slice(3);
  } else {
    return { kind: 'other' };
  }
  let namespace: string | undefined;
  // `namespaces/{ns}/{plural}…` addresses a namespaced collection; `namespaces/{name}` is a Namespace.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const inner = findResource(group, version, rest[2] as string);
    if (inner?.namespaced || (group !== '' && !inner)) {
      namespace = rest[1];
      rest = rest.slice(2);
    } else if (group === '' && !inner && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      return { kind: 'unknown-resource', group, version, plural: rest[2] as string };
    }
  }
  const plural = rest[0] as string;
  const def = findResource(group, version, plural);
  if (!def) return { kind: 'unknown-resource', group, version, plural };
  if (rest.length > 3) return { kind: 'unknown-resource', group, version, plural: rest.join('/') };
  const route: ResourceRoute = { def };
  if (namespace !== undefined) route.namespace = namespace;
  if (rest[1] !== undefined) route.name = rest[1];
  if (rest[2] !== undefined) route.subresource = rest[2];
  return { kind: 'resource', route };
}
