/**
 * How many more instances EC2 can launch right now, per AZ (optionally per instance type), for
 * spot and on-demand separately. Unset means unlimited. This is what the world turns down to make
 * spot "run out" and turns up to let it "come back"; a terminated instance returns its slot.
 */
import type { CapacityType } from './model.js';

export class CapacityPools {
  private readonly remaining = new Map<string, number>();

  private static key(type: CapacityType, az: string, instanceType?: string): string {
    return instanceType ? `${type}/${az}/${instanceType}` : `${type}/${az}`;
  }

  /** `instances` more launches are possible in `az` (for `instanceType` only, when given). Infinity = unlimited. */
  set(type: CapacityType, az: string, instances: number, instanceType?: string): void {
    if (!(instances >= 0)) throw new Error(`capacity must be >= 0, got ${instances}`);
    this.remaining.set(CapacityPools.key(type, az, instanceType), instances);
  }

  /** The pool that governs a launch: the instance-type-specific one if set, else the AZ-wide one, else none (unlimited). */
  private governing(type: CapacityType, az: string, instanceType: string): string | undefined {
    const specific = CapacityPools.key(type, az, instanceType);
    if (this.remaining.has(specific)) return specific;
    const azWide = CapacityPools.key(type, az);
    if (this.remaining.has(azWide)) return azWide;
    return undefined;
  }

  available(type: CapacityType, az: string, instanceType: string): number {
    const k = this.governing(type, az, instanceType);
    return k === undefined ? Infinity : (this.remaining.get(k) ?? Infinity);
  }

  /** Takes one slot; returns the pool key to give back later, or null when the pool is empty. */
  take(type: CapacityType, az: string, instanceType: string): string | null | undefined {
    const k = this.governing(type, az, instanceType);
    if (k === undefined) return undefined; // unlimited: nothing to give back
    const left = this.remaining.get(k) ?? Infinity;
    if (left < 1) return null;
    this.remaining.set(k, left - 1);
    return k;
  }

  /** Returns a slot taken with `take` (a terminated instance frees its capacity). */
  release(poolKey: string | undefined): void {
    if (poolKey === undefined) return;
    const left = this.remaining.get(poolKey);
    if (left === undefined || left === Infinity) return;
    this.remaining.set(poolKey, left + 1);
  }
}
