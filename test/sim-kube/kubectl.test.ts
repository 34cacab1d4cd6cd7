/**
 * A stock kubectl against the simulated API server. Skipped when kubectl is not on PATH.
 * Plain `kubectl create -f` works without --validate=false: the server publishes just enough
 * OpenAPI v3 for kubectl to hand validation to the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { isReady, readyNode, runningPod, startCluster, waitFor, type PodView, type TestCluster } from './helpers.js';

const run = promisify(execFile);

function findKubectl(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'kubectl');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

const kubectlPath = findKubectl();

interface NodeView {
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
}

describe('kubectl against sim-kube', { skip: kubectlPath ? false : 'kubectl not on PATH' }, () => {
  let c: TestCluster;
  let dir: string;
  let kubeconfig: string;

  const kubectl = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(kubectlPath as string, ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
    }
  };

  before(async () => {
    c = await startCluster();
    dir = await mkdtemp(join(tmpdir(), 'sim-kube-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    // Isolate kubectl's discovery cache from the user's home.
    process.env.KUBECACHEDIR = join(dir, 'cache');
    await writeFile(kubeconfig, c.sim.kubeconfigYaml());
    c.sim.create('nodes', readyNode('node-a'));
    c.sim.create('nodes', readyNode('node-b'));
  });
  after(async () => {
    await c.sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gets nodes and pods across namespaces', async () => {
    c.sim.create('pods', runningPod('sys-pod', 'node-b', { namespace: 'kube-system' }));
    const nodes = await kubectl('get', 'nodes');
    assert.match(nodes, /^NAME\s+STATUS/m);
    assert.match(nodes, /^node-a\s+Ready/m);
    assert.match(nodes, /^node-b\s+Ready/m);
    const pods = await kubectl('get', 'pods', '-A');
    assert.match(pods, /^kube-system\s+sys-pod\s+/m);
    const json = JSON.parse(await kubectl('get', 'no', '-o', 'json')) as { items: unknown[] };
    assert.equal(json.items.length, 2);
  });

  it('creates from a file and deletes a pod', async () => {
    const file = join(dir, 'pod.yaml');
    await writeFile(
      file,
      ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: from-file', '  namespace: default', 'spec:', '  containers:', '  - name: web', '    image: nginx', ''].join('\n'),
    );
    assert.match(await kubectl('create', '-f', file), /pod\/from-file created/);
    const created = await waitFor('pod running', () => {
      const p = c.sim.get<PodView>('pods', 'default', 'from-file');
      return p && isReady(p) ? p : undefined;
    });
    assert.ok(created.spec.nodeName);
    assert.match(await kubectl('delete', 'pod', 'from-file'), /pod "from-file" deleted/);
    assert.equal(c.sim.get('pods', 'default', 'from-file'), undefined);
  });

  it('cordons, uncordons and taints nodes', async () => {
    await kubectl('cordon', 'node-b');
    assert.equal(c.sim.get<NodeView>('nodes', undefined, 'node-b')?.spec?.unschedulable, true);
    await kubectl('uncordon', 'node-b');
    assert.equal(c.sim.get<NodeView>('nodes', undefined, 'node-b')?.spec?.unschedulable, undefined);

    await kubectl('taint', 'nodes', 'node-b', 'k=v:NoSchedule');
    assert.deepEqual(c.sim.get<NodeView>('nodes', undefined, 'node-b')?.spec?.taints?.map((t) => [t.key, t.value, t.effect]), [['k', 'v', 'NoSchedule']]);
    await kubectl('taint', 'nodes', 'node-b', 'other=x:NoExecute');
    assert.equal(c.sim.get<NodeView>('nodes', undefined, 'node-b')?.spec?.taints?.length, 2);
    await kubectl('taint', 'nodes', 'node-b', 'k-');
    assert.deepEqual(c.sim.get<NodeView>('nodes', undefined, 'node-b')?.spec?.taints?.map((t) => t.key), ['other']);
    await kubectl('taint', 'nodes', 'node-b', 'other-');
    assert.equal(c.sim.get<NodeView>('nodes', undefined, 'node-b')?.spec?.taints, undefined);
  });

  it('drains a node through the Eviction API', async () => {
    const ds = c.sim.create('daemonsets', {
      metadata: { name: 'agent', namespace: 'kube-system' },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'a' }] } } },
    });
    const dsPod = runningPod('agent-node-a', 'node-a', { namespace: 'kube-system', labels: { app: 'agent' } });
    c.sim.create('pods', {
      ...dsPod,
      metadata: { ...dsPod.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds.metadata.uid, controller: true }] },
      spec: { ...dsPod.spec, tolerations: [{ operator: 'Exists' }] },
    });
    c.sim.create('pods', runningPod('static-node-a', 'node-a', { namespace: 'kube-system', annotations: { 'kubernetes.io/config.mirror': 'abc' } }));
    c.sim.create('replicasets', {
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { nodeSelector: {}, containers: [{ name: 'web', image: 'web' }], volumes: [{ name: 'scratch', emptyDir: {} }] },
        },
      },
    });
    // No PDB here: kubectl retries a 429 only every 5 real seconds. Budgets are covered in eviction.test.ts.
    await waitFor('web pods ready', () => c.sim.list<PodView>('pods', { labelSelector: 'app=web' }).filter(isReady).length === 4);
    // Put every web pod on node-a by closing node-b for scheduling while they are recreated.
    c.sim.patch('nodes', undefined, 'node-b', { spec: { unschedulable: true } });
    for (const p of c.sim.list<PodView>('pods', { labelSelector: 'app=web' })) {
      if (p.spec.nodeName !== 'node-a') c.sim.delete('pods', 'default', p.metadata.name, { gracePeriodSeconds: 0 });
    }
    await waitFor('web pods all on node-a', () => {
      const pods = c.sim.list<PodView>('pods', { labelSelector: 'app=web' });
      return pods.length === 4 && pods.every((p) => p.spec.nodeName === 'node-a' && isReady(p));
    });
    c.sim.patch('nodes', undefined, 'node-b', { spec: { unschedulable: null } });

    const out = await kubectl('drain', 'node-a', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s');
    assert.match(out, /node\/node-a drained/);
    assert.equal(c.sim.get<NodeView>('nodes', undefined, 'node-a')?.spec?.unschedulable, true);
    const left = c.sim.list<PodView>('pods', { fieldSelector: 'spec.nodeName=node-a' }).map((p) => p.metadata.name).sort();
    assert.deepEqual(left, ['agent-node-a', 'static-node-a']);
    await waitFor('web pods back on node-b', () => {
      const pods = c.sim.list<PodView>('pods', { labelSelector: 'app=web' });
      return pods.length === 4 && pods.every((p) => p.spec.nodeName === 'node-b' && isReady(p));
    });
    const counts = c.sim.requestCounts();
    assert.ok((counts['CREATE pods/eviction'] ?? 0) >= 4);
  });
});
