import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { errorMessage } from '../shared/errors.js';
import { applyAction } from './actions.js';
import { ACTION_KINDS } from './scenario.js';
import type { SimWorld } from './world.js';

const actionBody = z.object({
  node: z.string().min(1),
  do: z.enum(ACTION_KINDS),
  action: z.enum(['terminate', 'stop', 'hibernate']).optional(),
  code: z.enum(['instance-reboot', 'system-reboot', 'system-maintenance', 'instance-retirement', 'instance-stop']).optional(),
  eventId: z.string().optional(),
  notBeforeIn: z.number().nonnegative().optional().describe('milliseconds'),
});

/**
 * The control endpoint of `spot-guard simulate serve`: POST /actions {"node","do",…} triggers a
 * notice (or reboot, outage, agent kill) on a node; GET /nodes lists nodes and their IMDS URLs.
 */
export async function startControlServer(
  world: SimWorld,
  startAgent: (node: string) => Promise<void>,
  port = 0,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
    if (req.method === 'GET' && req.url === '/nodes') {
      reply(200, world.nodeNames().map((n) => ({ name: n, imds: world.imds(n).url, agent: Boolean(world.agent(n)) })));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/actions') {
      reply(404, { error: 'use POST /actions or GET /nodes' });
      return;
    }
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
      if (raw.length > 64 * 1024) req.destroy();
    });
    req.on('end', () => {
      let parsed;
      try {
        parsed = actionBody.safeParse(JSON.parse(raw || '{}'));
      } catch (err) {
        reply(400, { error: `body is not JSON: ${errorMessage(err)}` });
        return;
      }
      if (!parsed.success) {
        reply(400, { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
        return;
      }
      if (!world.nodeNames().includes(parsed.data.node)) {
        reply(404, { error: `no node ${parsed.data.node}; nodes: ${world.nodeNames().join(', ')}` });
        return;
      }
      applyAction(world, parsed.data, startAgent).then(
        (text) => reply(200, { ok: true, node: parsed.data.node, did: text }),
        (err: unknown) => reply(409, { error: errorMessage(err) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
