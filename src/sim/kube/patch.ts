/**
 * The three PATCH flavours of the Kubernetes API: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902) and strategic merge patch. For strategic merge the schema knowledge the server needs
 * is which lists merge by which key; it is kept here as a field-name table covering the types the
 * simulated cluster serves (lists not in the table, such as taints and tolerations, are replaced).
 */
import jsonPatch from 'fast-json-patch';
import { ApiError, badRequest } from './status.js';

type Json = unknown;
type JsonMap = Record<string, Json>;

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

function isMap(v: Json): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  const out: JsonMap = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function applyJsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  try {
    const doc = structuredClone(target);
    return jsonPatch.applyPatch(doc, ops as jsonPatch.Operation[], true, true).newDocument;
  } catch (err) {
    // A failed `test` op or a path that does not exist: the real server answers 422 / 500; 422 is
    // what clients treat as "your patch is wrong".
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${(err as Error).message}`);
  }
}

/** Merge keys of lists with patchStrategy "merge", by field name. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  conditions: 'type',
  addresses: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  podIPs: 'ip',
  hostIPs: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
  schedulingGates: 'name',
};

/** Primitive lists with patchStrategy "merge": the patch's values are added, not substituted. */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

const SET_ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.filter((e) => !(isMap(e) && e.$patch === 'delete')).map(stripDirectives);
  if (!isMap(v)) return v;
  const out: JsonMap = {};
  for (const [k, val] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    if (val === null) continue;
    out[k] = stripDirectives(val);
  }
  return out;
}

function mergeKeyedList(field: string, key: string, original: Json[], patch: Json[]): Json[] {
  if (patch.some((e) => isMap(e) && e.$patch === 'replace')) {
    return patch.filter((e) => !(isMap(e) && e.$patch === 'replace')).map(stripDirectives);
  }
  const out = original.map((e) => e);
  for (const item of patch) {
    if (!isMap(item)) {
      out.push(item);
      continue;
    }
    const idx = out.findIndex((o) => isMap(o) && o[key] !== undefined && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], item, field);
    else out.push(stripDirectives(item));
  }
  return out;
}

function applyElementOrder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const keyOf = (e: Json): Json => (key && isMap(e) ? e[key] : e);
  const orderKeys = order.map((o) => (key && isMap(o) ? o[key] : o));
  const ranked = list.map((e, i) => {
    const pos = orderKeys.findIndex((k) => k === keyOf(e));
    return { e, rank: pos >= 0 ? pos : orderKeys.length + i };
  });
  ranked.sort((a, b) => a.rank - b.rank);
  return ranked.map((r) => r.e);
}

/**
 * Strategic merge of `patch` into `original`. `field` is the name of the field holding these
 * values, which selects the list strategy.
 */
export function strategicMerge(original: Json, patch: Json, field = ''): Json {
  if (!isMap(patch)) {
    if (Array.isArray(patch)) {
      const key = MERGE_KEYS[field];
      const orig = Array.isArray(original) ? original : [];
      if (key) return mergeKeyedList(field, key, orig, patch);
      if (MERGED_PRIMITIVE_LISTS.has(field)) {
        const out = [...orig];
        for (const v of patch) if (!out.includes(v)) out.push(v);
        return out;
      }
      return stripDirectives(patch);
    }
    return patch;
  }
  const directive = patch.$patch;
  if (directive === 'replace') return stripDirectives(patch);
  if (directive === 'delete') return undefined;
  if (directive !== undefined && directive !== 'merge') throw badRequest(`unknown patch type: ${String(directive)}`);

  const out: JsonMap = isMap(original) ? { ...original } : {};
  const orders: [string, Json[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith(SET_ORDER)) {
      if (Array.isArray(v)) orders.push([k.slice(SET_ORDER.length), v]);
      continue;
    }
    if (k.startsWith(DELETE_FROM)) {
      const target = k.slice(DELETE_FROM.length);
      const cur = out[target];
      if (Array.isArray(cur) && Array.isArray(v)) out[target] = cur.filter((e) => !v.includes(e));
      continue;
    }
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const merged = strategicMerge(out[k], v, k);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  for (const [f, order] of orders) {
    const cur = out[f];
    if (Array.isArray(cur)) out[f] = applyElementOrder(cur, order, MERGE_KEYS[f]);
  }
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

/** Applies a PATCH body of the given content type to the stored object. */
export function applyPatch(contentType: string, original: Json, body: string): Json {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === PATCH_TYPES.apply) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.json}, ${PATCH_TYPES.merge}, ${PATCH_TYPES.strategic} (server-side apply is not simulated)`);
  }
  if (type !== PATCH_TYPES.json && type !== PATCH_TYPES.merge && type !== PATCH_TYPES.strategic) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.json}, ${PATCH_TYPES.merge}, ${PATCH_TYPES.strategic}, ${PATCH_TYPES.apply}`);
  }
  let parsed: Json;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
  if (type === PATCH_TYPES.json) return applyJsonPatch(original, parsed);
  if (!isMap(parsed)) throw badRequest('patch body must be a JSON object');
  if (type === PATCH_TYPES.merge) return mergePatch(original, parsed);
  return strategicMerge(original, parsed);
}
