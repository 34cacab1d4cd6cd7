/** Test hooks on the HTTP API: injected failures and per-verb request counters. */
import { ApiError, defaultReason } from './status.js';

export interface FaultSpec {
  /** HTTP method (GET, POST…) or Kubernetes verb (get, list, watch, create, update, patch, delete); any when absent. */
  method?: string;
  /** Plural, optionally group-qualified ('pods', 'leases.coordination.k8s.io'). */
  resource: string;
  subresource?: string;
  name?: string;
  status: number;
  times: number;
  reason?: string;
  message?: string;
}

export interface RequestDescriptor {
  httpMethod: string;
  verb: string;
  resource: string;
  group: string;
  subresource?: string;
  name?: string;
}

export class FaultInjector {
  private readonly faults: { spec: FaultSpec; remaining: number }[] = [];

  add(spec: FaultSpec): void {
    if (spec.times > 0) this.faults.push({ spec, remaining: spec.times });
  }

  clear(): void {
    this.faults.length = 0;
  }

  /** Consumes and returns the error for the first fault matching this request, if any. */
  take(req: RequestDescriptor): ApiError | undefined {
    const idx = this.faults.findIndex(({ spec }) => matches(spec, req));
    if (idx < 0) return undefined;
    const f = this.faults[idx] as { spec: FaultSpec; remaining: number };
    f.remaining--;
    if (f.remaining <= 0) this.faults.splice(idx, 1);
    const reason = f.spec.reason ?? defaultReason(f.spec.status);
    const message = f.spec.message ?? `injected fault: ${reason || f.spec.status}`;
    const details: { name?: string; group?: string; kind?: string } = { group: req.group, kind: req.resource };
    if (req.name) details.name = req.name;
    return new ApiError(f.spec.status, reason, message, details);
  }
}

function matches(spec: FaultSpec, req: RequestDescriptor): boolean {
  if (spec.method) {
    const m = spec.method.toUpperCase();
    if (m !== req.httpMethod.toUpperCase() && m !== req.verb.toUpperCase()) return false;
  }
  const qualified = req.group ? `${req.resource}.${req.group}` : req.resource;
  if (spec.resource !== req.resource && spec.resource !== qualified) return false;
  if ((spec.subresource ?? '') !== (req.subresource ?? '')) return false;
  if (spec.name !== undefined && spec.name !== req.name) return false;
  return true;
}

export class RequestCounter {
  private counts: Record<string, number> = {};

  record(req: RequestDescriptor): void {
    const qualified = req.group ? `${req.resource}.${req.group}` : req.resource;
    const key = `${req.verb.toUpperCase()} ${qualified}${req.subresource ? '/' + req.subresource : ''}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  snapshot(): Record<string, number> {
    return { ...this.counts };
  }

  reset(): void {
    this.counts = {};
  }
}
