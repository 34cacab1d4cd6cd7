import { silentLogger } from '/work/main/src/observability/logger.js';
import { systemClock } from '/work/main/src/shared/clock.js';
import { SimWorld } from '/work/main/src/sim/world.js';
const world = new SimWorld({ clock: systemClock, logger: silentLogger() });
await world.start();
for (let i = 0; i < 4; i++) {
  const name = `n${i}`;
  await world.addNode({ name });
  const t = performance.now();
  const p = (s: string) => console.log(name, s, Math.round(performance.now() - t));
  let first = false, itn = false;
  world.kube.onChange((ev) => { if (ev.resource === 'nodes' && (ev.object as any).metadata.name === name) p(`change ${ev.type} unsched=${(ev.object as any).spec?.unschedulable}`); });
  const agent = await world.startAgent(name, { CORDON_ONLY: 'true', IMDS_POLL_INTERVAL: '200ms' }, {
    onPass: (n) => { if (!first) { first = true; p('first pass'); } if (n.length && !itn) { itn = true; p('itn pass'); } },
    onStep: (s) => p(`step ${s.step} ${s.outcome}`),
  });
  p('started');
  await new Promise((r) => setTimeout(r, 300));
  world.imds(name).setSpotInterruption({ action: 'terminate' });
  p('itn set');
  await new Promise<void>((r) => { const iv = setInterval(() => { if ((world.kube.get("nodes", undefined, name) as any)?.spec?.unschedulable) { clearInterval(iv); r(); } }, 1); });
  await agent.kill();
  p('killed');
}
await world.stop();
process.exit(0);
