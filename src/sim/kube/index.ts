/**
 * The simulated Kubernetes API server (see sim-kube.ts). Design notes:
 * - Real HTTP on 127.0.0.1 so client-node and kubectl run unchanged; only the endpoint differs.
 * - One store, served over HTTP and in-process (SimKube.create/get/list/patch/mutate/delete/evict).
 * - Controllers (scheduler, kubelet, ReplicaSet, disruption) react to store changes; all their
 *   timing uses the injected Clock. The only real-time delay is setLatencyMs (real milliseconds).
 * - Namespaces are neither pre-created nor required to exist for namespaced objects.
 * - OpenAPI v3 is published without schemas, enough for `kubectl create -f` with its default
 *   validation (the server accepts fieldValidation and does not reject unknown fields).
 * - Not simulated: server-side apply, finalizers, protobuf, Table watches (`kubectl get -w`),
 *   authentication/authorization.
 */
export { SimKube, resolveResource } from './sim-kube.js';
export type { SimKubeOptions, PatchKind } from './sim-kube.js';
export type { FaultSpec } from './faults.js';
export type { DeleteOptions } from './deletion.js';
export type { EvictionOutcome } from './eviction.js';
export { ApiError } from './status.js';
export type { StatusBody, StatusReason } from './status.js';
export { ANNOTATION_MIRROR, ANNOTATION_SHUTDOWN_SECONDS, ANNOTATION_START_SECONDS } from './pod-state.js';
export { parseQuantity } from './quantity.js';
export type { ChangeEvent, KubeObject, StoredObject } from './types.js';
