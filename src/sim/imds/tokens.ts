/** IMDSv2 session tokens issued by the simulator, expiring by the injected clock. */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';

export class SimTokenStore {
  private readonly expiry = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  issue(ttlSeconds: number): string {
    this.prune();
    // EC2 tokens are opaque base64 text of about this length.
    const token = randomBytes(42).toString('base64');
    this.expiry.set(token, this.clock.now() + ttlSeconds * 1000);
    return token;
  }

  /** Remaining whole seconds of a valid token, or null when unknown or expired. */
  remainingSeconds(token: string): number | null {
    const at = this.expiry.get(token);
    if (at === undefined) return null;
    const left = at - this.clock.now();
    if (left <= 0) {
      this.expiry.delete(token);
      return null;
    }
    return Math.ceil(left / 1000);
  }

  /** Forget every token, as if IMDS had restarted (clients must get a new one after a 401). */
  revokeAll(): void {
    this.expiry.clear();
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [token, at] of this.expiry) if (at <= now) this.expiry.delete(token);
  }
}
