/**
 * docs/iam/ grants exactly the Auto Scaling calls the agent makes (every `new …Command(` sent by
 * src/, the simulated world excluded): describe calls on "*", writes only on the two groups.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IAM = join(ROOT, 'docs/iam');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return p.endsWith('/src/sim') ? [] : files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** autoscaling:<Operation> for every AWS SDK Command the agent sends. */
function actionsUsed(): string[] {
  const used = new Set<string>();
  for (const f of files(join(ROOT, 'src'))) {
    const text = readFileSync(f, 'utf8');
    if (!text.includes('@aws-sdk/')) continue;
    assert.ok(!/@aws-sdk\/client-(?!auto-scaling)/.test(text), `${f}: an AWS client other than Auto Scaling needs its IAM actions in docs/iam/`);
    for (const m of text.matchAll(/new (\w+)Command\(/g)) used.add(`autoscaling:${m[1]}`);
  }
  return [...used].sort();
}

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

const WRITES = ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'];

function checkPolicy(name: string, statements: Statement[], scope: 'arn' | 'tag'): void {
  const granted = statements.flatMap((s) => s.Action).sort();
  assert.deepEqual(granted, actionsUsed(), `${name}: actions = the calls in src/`);
  for (const s of statements) {
    assert.equal(s.Effect, 'Allow');
    const writes = s.Action.filter((a) => WRITES.includes(a));
    if (writes.length === 0) {
      assert.ok(s.Action.every((a) => /^autoscaling:Describe/.test(a)), name);
      continue;
    }
    assert.deepEqual(writes.sort(), s.Action.sort(), `${name}: writes in their own statement`);
    if (scope === 'arn') {
      const res = [s.Resource].flat();
      assert.equal(res.length, 2, `${name}: the two groups`);
      for (const r of res) assert.match(r, /^arn:aws:autoscaling:[^:]+:[^:]+:autoScalingGroup:\*:autoScalingGroupName\/\S+$/);
    } else {
      assert.ok(s.Condition?.StringEquals && Object.keys(s.Condition.StringEquals).some((k) => k.startsWith('autoscaling:ResourceTag/')), name);
    }
  }
}

describe('IAM policy = the Auto Scaling calls the agent makes', () => {
  it('the agent calls these five operations', () => {
    assert.deepEqual(actionsUsed(), [
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
      'autoscaling:DescribeScalingActivities',
      'autoscaling:SetDesiredCapacity',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
    ]);
  });

  it('spot-guard-policy.json: writes on the two group ARNs', () => {
    const p = JSON.parse(readFileSync(join(IAM, 'spot-guard-policy.json'), 'utf8')) as { Statement: Statement[] };
    checkPolicy('spot-guard-policy.json', p.Statement, 'arn');
  });

  it('spot-guard-policy-by-tag.json: writes only on groups with the tag', () => {
    const p = JSON.parse(readFileSync(join(IAM, 'spot-guard-policy-by-tag.json'), 'utf8')) as { Statement: Statement[] };
    checkPolicy('spot-guard-policy-by-tag.json', p.Statement, 'tag');
  });

  it('the eksctl snippet carries the same policy', () => {
    const c = parseYaml(readFileSync(join(IAM, 'eksctl-iamserviceaccount.yaml'), 'utf8')) as {
      iam: { serviceAccounts: { permissionPolicy: { Statement: Statement[] } }[] };
    };
    checkPolicy('eksctl-iamserviceaccount.yaml', c.iam.serviceAccounts[0]!.permissionPolicy.Statement, 'arn');
  });

  it('the Terraform snippet names the same actions', () => {
    const tf = readFileSync(join(IAM, 'irsa.tf'), 'utf8');
    const actions = [...tf.matchAll(/"(autoscaling:\w+)"/g)].map((m) => m[1]!).sort();
    assert.deepEqual(actions, actionsUsed());
  });
});
