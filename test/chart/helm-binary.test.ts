/**
 * The same chart rendered by a real helm, compared object by object with the test renderer
 * (go-template.ts + helm.ts). Runs when `helm` (v3) is on PATH — GitHub's ubuntu runners ship one;
 * no helm is obtainable from the registries of the development machine (docs/install.md, "Chart
 * tests"), so it is skipped there with this message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, RELEASE, renderChart, ciValues } from './helm.js';

const run = promisify(execFile);

function findHelm(): string | undefined {
  if (process.env.HELM_BIN && existsSync(process.env.HELM_BIN)) return process.env.HELM_BIN;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'helm');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

const helm = findHelm();
const CI_FILES = ['default-values.yaml', 'spot-guard-values.yaml', 'everything-values.yaml', 'webhook-secret-values.yaml'];

async function helmTemplate(...args: string[]): Promise<unknown[]> {
  const { stdout } = await run(helm as string, ['template', RELEASE.name, CHART_DIR, '--namespace', RELEASE.namespace, ...args], {
    timeout: 60_000,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as unknown)
    .filter((o) => o !== null);
}

const byKey = (objs: unknown[]) =>
  new Map(
    objs.map((o) => {
      const k = o as { kind: string; metadata: { name: string; namespace?: string } };
      return [`${k.kind}/${k.metadata.namespace ?? ''}/${k.metadata.name}`, o];
    }),
  );

describe('real helm agrees with the test renderer', { skip: helm ? false : 'helm not on PATH (set HELM_BIN or install helm v3 to run)' }, () => {
  it('helm lint --strict passes for every values file in ci/', async () => {
    for (const f of CI_FILES) await run(helm as string, ['lint', '--strict', CHART_DIR, '-f', join(CHART_DIR, 'ci', f)], { timeout: 60_000 });
  });

  for (const f of CI_FILES) {
    it(`helm template -f ci/${f} renders the same objects`, async () => {
      const real = byKey(await helmTemplate('-f', join(CHART_DIR, 'ci', f)));
      const ours = byKey(renderChart(ciValues(f)).objects);
      assert.deepEqual([...ours.keys()].sort(), [...real.keys()].sort());
      for (const [k, o] of ours) assert.deepEqual(o, real.get(k), k);
    });
  }

  it('helm rejects the values the schema test rejects', async () => {
    for (const set of ['spotGuard.enabled=true', 'taintEffect=NoScheduling', 'enableSqsTerminationDraining=true']) {
      await assert.rejects(helmTemplate('--set', set), /schema|values don't meet/i, set);
    }
    await assert.rejects(
      helmTemplate('--set', 'enableRebalanceDraining=true,spotGuard.enabled=true,spotGuard.spotAsgName=g,spotGuard.onDemandAsgName=g'),
      /must be different/,
    );
  });
});
