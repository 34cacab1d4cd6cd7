import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity } from '../../src/sim/kube/quantity.js';
import { labelSelectorMatcher, parseFieldSelector, parseLabelSelector } from '../../src/sim/kube/selectors.js';
import { tolerates } from '../../src/sim/kube/scheduler.js';
import { resolveResource } from '../../src/sim/kube/index.js';

describe('quantities', () => {
  it('parses decimal, binary and exponent forms', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('2'), 2);
    assert.equal(parseQuantity('1.5'), 1.5);
    assert.equal(parseQuantity('512Mi'), 512 * 1024 * 1024);
    assert.equal(parseQuantity('1Gi'), 1024 ** 3);
    assert.equal(parseQuantity('1G'), 1e9);
    assert.equal(parseQuantity('128k'), 128_000);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity(110), 110);
    assert.throws(() => parseQuantity('12 apples'));
  });
});

describe('selectors', () => {
  const labels = { app: 'web', tier: 'fe', n: '5' };
  it('parses label selector strings', () => {
    const t = (s: string) => parseLabelSelector(s)(labels);
    assert.equal(t(''), true);
    assert.equal(t('app=web'), true);
    assert.equal(t('app==web,tier=fe'), true);
    assert.equal(t('app!=web'), false);
    assert.equal(t('missing!=x'), true);
    assert.equal(t('app in (db, web)'), true);
    assert.equal(t('app notin (web)'), false);
    assert.equal(t('tier'), true);
    assert.equal(t('!tier'), false);
    assert.equal(t('!missing'), true);
    assert.equal(t('n>3,n<9'), true);
  });
  it('matches structured LabelSelectors (empty matches all, missing matches none)', () => {
    assert.equal(labelSelectorMatcher({})(labels), true);
    assert.equal(labelSelectorMatcher(undefined)(labels), false);
    assert.equal(labelSelectorMatcher({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe'] }] })(labels), true);
    assert.equal(labelSelectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] })(labels), false);
  });
  it('parses field selectors with escapes', () => {
    const obj = { metadata: { name: 'a,b' }, spec: { nodeName: 'n1' } };
    assert.equal(parseFieldSelector('metadata.name=a\\,b')(obj), true);
    assert.equal(parseFieldSelector('spec.nodeName!=n1')(obj), false);
    assert.equal(parseFieldSelector('spec.nodeName=')({ spec: {} }), true);
  });
});

describe('tolerations', () => {
  const taint = { key: 'k', value: 'v', effect: 'NoSchedule' };
  it('matches like the scheduler', () => {
    assert.equal(tolerates({ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }, taint), true);
    assert.equal(tolerates({ key: 'k', value: 'v' }, taint), true, 'Equal is the default operator; empty effect matches all');
    assert.equal(tolerates({ key: 'k', operator: 'Equal', value: 'w' }, taint), false);
    assert.equal(tolerates({ key: 'k', operator: 'Exists' }, taint), true);
    assert.equal(tolerates({ operator: 'Exists' }, taint), true);
    assert.equal(tolerates({ operator: 'Exists', effect: 'NoExecute' }, taint), false);
    assert.equal(tolerates({ key: 'other', operator: 'Exists' }, taint), false);
  });
});

describe('resource names', () => {
  it('resolves plurals, short names, kinds and group-qualified names', () => {
    assert.equal(resolveResource('pods').kind, 'Pod');
    assert.equal(resolveResource('pdb').kind, 'PodDisruptionBudget');
    assert.equal(resolveResource('Lease').group, 'coordination.k8s.io');
    assert.equal(resolveResource('events').group, '');
    assert.equal(resolveResource('events.events.k8s.io').group, 'events.k8s.io');
    assert.throws(() => resolveResource('widgets'));
  });
});
