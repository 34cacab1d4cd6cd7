/**
 * Webhook sink (WEBHOOK_URL): renders the NTH-style template for the notifications NTH would post
 * (one per interruption event, once its action is done) and for Spot Guard's steps, and POSTs it in
 * the background — 5 s timeout per attempt (NTH's), bounded retries with backoff, never in the way
 * of a drain.
 */
import type { InstanceMetadata } from '../imds/notices.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { DeliveryQueue, PermanentDeliveryError } from './delivery-queue.js';
import type { CompiledTemplate } from './go-template.js';
import { post, type PostResult } from './http-post.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Notification, Notifier } from './notifier.js';
import { webhookData } from './webhook-template.js';

export interface WebhookNotifierOptions {
  url: string;
  headers: Record<string, string>;
  template: CompiledTemplate;
  proxy?: string;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** This instance's metadata (read at startup; undefined until then). */
  metadata: () => InstanceMetadata | undefined;
  /** Which notifications become webhooks (see nthWebhookSelection). */
  wants: (n: Notification) => boolean;
  /** Only called when the template uses .Pods / .NodeLabels. */
  lookup?: { podNames(): Promise<string[]>; nodeLabels(): Promise<Record<string, string>> };
  /** Per attempt; default 5 s (NTH's client timeout). */
  timeoutMs?: number;
  /** Default 4 (first try + 3 retries). */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  maxQueued?: number;
  /** Extra CA for https receivers (tests). */
  ca?: string | Buffer;
}

/**
 * NTH posts one webhook per interruption event after its cordon (cordon-only handling) or its
 * cordon-and-drain, successful or not. Spot Guard's steps each post one too. A drain retried with
 * backoff posts its error once, not on every retry.
 */
export function nthWebhookSelection(cordonIsFinal: (kind: string) => boolean): (n: Notification) => boolean {
  const errorsPosted = new Set<string>();
  const once = (key: string) => {
    if (errorsPosted.has(key)) return false;
    if (errorsPosted.size > 1000) errorsPosted.clear();
    errorsPosted.add(key);
    return true;
  };
  return (n) => {
    switch (n.reason) {
      case 'CordonAndDrain':
        return true;
      case 'Cordon':
        return n.event !== undefined && cordonIsFinal(n.event.kind);
      case 'CordonError':
      case 'CordonAndDrainError':
        return once(`${n.reason}/${n.event?.id ?? ''}`);
      default:
        return n.reason.startsWith('SpotGuard');
    }
  };
}

interface Item {
  n: Notification;
  pods?: Promise<string[]>;
}

export class WebhookNotifier implements Notifier {
  private readonly queue: DeliveryQueue<Item>;
  /** Pod names captured when an event's node was cordoned (before its drain), for `.Pods`. */
  private readonly podsAtCordon = new Map<string, Promise<string[]>>();

  constructor(private readonly opts: WebhookNotifierOptions) {
    this.queue = new DeliveryQueue<Item>({
      clock: opts.clock,
      maxAttempts: opts.maxAttempts ?? 4,
      attemptTimeoutMs: opts.timeoutMs ?? 5_000,
      backoff: opts.backoff ?? { baseMs: 2_000, maxMs: 30_000, jitter: 0.2 },
      maxQueued: opts.maxQueued ?? 100,
      deliver: (item, signal) => this.deliver(item, signal),
      onRetry: (item, attempt, err, retryInMs) => {
        this.log(item.n).debug({ attempt, retryInMs, err: errorMessage(err) }, 'webhook attempt failed; retrying');
      },
      onResult: (item, result, err) => {
        this.opts.metrics.webhooks.inc({ reason: item.n.reason, result });
        const log = this.log(item.n);
        if (result === 'delivered') log.info(`webhook sent (${item.n.reason})`);
        else log.warn({ err: err === undefined ? undefined : errorMessage(err) }, `webhook ${result} (${item.n.reason})`);
      },
    });
  }

  notify(n: Notification): void {
    const uses = this.opts.template.fields;
    if (n.reason === 'Cordon' && n.event && uses.has('Pods') && this.opts.lookup) {
      if (this.podsAtCordon.size > 50) this.podsAtCordon.clear();
      const snapshot = this.opts.lookup.podNames().catch(() => []);
      this.podsAtCordon.set(n.event.id, snapshot);
    }
    if (!this.opts.wants(n)) return;
    const pods = n.event ? this.podsAtCordon.get(n.event.id) : undefined;
    if (n.event && (n.reason === 'CordonAndDrain' || n.reason === 'CordonAndDrainError')) this.podsAtCordon.delete(n.event.id);
    this.queue.push({ n, ...(pods ? { pods } : {}) });
  }

  /** On shutdown: give queued webhooks up to `boundMs` (clock time), then drop the rest. */
  async flush(boundMs: number): Promise<void> {
    const done = await this.queue.flush(boundMs);
    if (!done) this.opts.logger.warn({ pending: this.queue.pending }, 'webhooks still pending at shutdown; dropping them');
    this.queue.close();
  }

  close(): void {
    this.queue.close();
  }

  private log(n: Notification): Logger {
    return this.opts.logger.child({
      component: 'webhook',
      reason: n.reason,
      ...(n.event ? { eventId: n.event.id, phase: n.event.phase } : {}),
      ...(n.group ? { group: n.group } : {}),
    });
  }

  private async render(item: Item): Promise<string> {
    const uses = this.opts.template.fields;
    const lookup = this.opts.lookup;
    const pods = uses.has('Pods') && lookup ? await (item.pods ?? lookup.podNames().catch(() => [])) : undefined;
    const nodeLabels = uses.has('NodeLabels') && lookup ? await lookup.nodeLabels().catch(() => ({})) : undefined;
    const data = webhookData(item.n, {
      metadata: this.opts.metadata(),
      ...(pods ? { pods } : {}),
      ...(nodeLabels ? { nodeLabels } : {}),
    });
    return this.opts.template.render(data);
  }

  private async deliver(item: Item, signal: AbortSignal): Promise<void> {
    let body: string;
    try {
      body = await this.render(item);
    } catch (err) {
      throw new PermanentDeliveryError(`template execution failed: ${errorMessage(err)}`, { cause: err });
    }
    const headers = { 'user-agent': 'spot-guard', ...this.opts.headers };
    let res: PostResult;
    try {
      res = await post({
        url: this.opts.url,
        headers,
        body,
        signal,
        ...(this.opts.proxy ? { proxy: this.opts.proxy } : {}),
        ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      });
    } catch (err) {
      this.opts.metrics.webhookAttempts.inc({ outcome: signal.aborted ? 'timeout' : 'network' });
      throw err;
    }
    if (res.status >= 200 && res.status < 300) {
      this.opts.metrics.webhookAttempts.inc({ outcome: 'success' });
      return;
    }
    this.opts.metrics.webhookAttempts.inc({ outcome: 'http_error' });
    const msg = `receiver answered HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 200)}` : ''}`;
    // 408/429 and 5xx may pass; other 4xx (bad URL, bad payload, no permission) will not.
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(msg);
    throw new PermanentDeliveryError(msg);
  }
}
