import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CapacityPools } from '../../src/sim/autoscaling/capacity-pool.js';
import { memberList, QueryParams, renderError, renderResponse, xmlEscape } from '../../src/sim/autoscaling/query-protocol.js';

describe('sim autoscaling: query protocol', () => {
  it('parses form bodies and member lists in index order', () => {
    const p = new QueryParams('Action=X&Names.member.2=b%20c&Names.member.1=a%26&Names.member.10=z&Other=1+2');
    assert.equal(p.get('Action'), 'X');
    assert.equal(p.get('Other'), '1 2');
    assert.deepEqual(p.list('Names'), ['a&', 'b c', 'z']);
    assert.deepEqual(p.list('Missing'), []);
  });

  it('escapes XML text and renders the envelopes', () => {
    assert.equal(xmlEscape(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
    assert.equal(memberList('L', []), '<L/>');
    assert.equal(
      renderResponse('SetDesiredCapacity', undefined, 'r1'),
      '<SetDesiredCapacityResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></SetDesiredCapacityResponse>',
    );
    assert.equal(
      renderError('Sender', 'ValidationError', 'bad <x>', 'r2'),
      '<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>bad &lt;x&gt;</Message></Error><RequestId>r2</RequestId></ErrorResponse>',
    );
  });
});

describe('sim autoscaling: capacity pools', () => {
  it('is unlimited until set; instance-type pools override AZ-wide ones; release gives a slot back', () => {
    const pools = new CapacityPools();
    assert.equal(pools.take('spot', 'a', 'm5.large'), undefined);
    pools.set('spot', 'a', 1);
    pools.set('spot', 'a', 0, 'c5.large');
    assert.equal(pools.take('spot', 'a', 'c5.large'), null);
    const key = pools.take('spot', 'a', 'm5.large');
    assert.equal(key, 'spot/a');
    assert.equal(pools.take('spot', 'a', 'm5.large'), null);
    assert.equal(pools.available('on-demand', 'a', 'm5.large'), Infinity);
    pools.release(key ?? undefined);
    assert.equal(pools.available('spot', 'a', 'm5.large'), 1);
  });
});
