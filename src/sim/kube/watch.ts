/**
 * Watch streams: newline-delimited `{type, object}` JSON over a chunked response, as the real API
 * server sends them. A watch may resume from a resourceVersion still in the store's history
 * (older ones get an ERROR event with a 410 Expired Status, which informers answer by relisting).
 * Objects moving into or out of a filtered watch's selection arrive as ADDED/DELETED.
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../shared/clock.js';
import type { ObjectStore, StoreEvent } from './store.js';
import type { ResourceDef } from './resources.js';
import { storeKeyOf } from './resources.js';
import { ApiError } from './status.js';
import type { StoredObject, WatchEventType } from './types.js';

export interface WatchRequest {
  def: ResourceDef;
  namespace?: string;
  /** True when the object passes the label and field selectors. */
  matches: (obj: StoredObject) => boolean;
  resourceVersion?: string;
  timeoutSeconds?: number;
}

export class WatchHub {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Ends every open watch (the server is stopping). */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  serve(req: WatchRequest, res: ServerResponse): void {
    const resource = storeKeyOf(req.def);
    const inScope = (obj: StoredObject) =>
      !req.def.namespaced || !req.namespace || obj.metadata.namespace === req.namespace;
    const visible = (obj: StoredObject | undefined) => obj !== undefined && inScope(obj) && req.matches(obj);

    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();

    const send = (type: WatchEventType | 'ERROR' | 'BOOKMARK', object: unknown) => {
      if (!res.writableEnded) res.write(JSON.stringify({ type, object }) + '\n');
    };
    const translate = (ev: StoreEvent) => {
      if (ev.resource !== resource) return;
      const now = visible(ev.object);
      const before = ev.type === 'MODIFIED' ? visible(ev.previous) : now;
      if (ev.type === 'MODIFIED') {
        if (now && before) send('MODIFIED', ev.object);
        else if (now) send('ADDED', ev.object);
        else if (before) send('DELETED', ev.object);
      } else if (now) {
        send(ev.type, ev.object);
      }
    };

    const rvParam = req.resourceVersion ?? '';
    if (rvParam === '' || rvParam === '0') {
      // "Start at most recent": synthetic ADDED events for the current state, then live changes.
      for (const obj of this.store.list(req.def, req.namespace)) if (visible(obj)) send('ADDED', obj);
    } else {
      const since = Number(rvParam);
      if (!Number.isInteger(since) || since < 0) {
        send('ERROR', new ApiError(400, 'BadRequest', `invalid resource version "${rvParam}"`).toStatus());
        res.end();
        return;
      }
      if (since < this.store.oldestResumableVersion) {
        send('ERROR', new ApiError(410, 'Expired', `too old resource version: ${since} (${this.store.oldestResumableVersion + 1})`).toStatus());
        res.end();
        return;
      }
      for (const ev of this.store.changesSince(resource, since)) translate(ev);
    }

    const abort = new AbortController();
    const unsubscribe = this.store.onEvent(translate);
    const close = () => {
      if (!this.open.delete(close)) return;
      unsubscribe();
      abort.abort();
      if (!res.writableEnded) res.end();
    };
    this.open.add(close);
    res.on('close', close);
    if (req.timeoutSeconds !== undefined && req.timeoutSeconds > 0) {
      this.clock.sleep(req.timeoutSeconds * 1000, abort.signal).then(close, () => undefined);
    }
  }
}
