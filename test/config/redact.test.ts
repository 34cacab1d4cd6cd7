import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, configView, redactConfig, redactUrl } from '../../src/config/redact.js';
import { BASE_ENV, load } from './helpers.js';

const SECRET_ENV = {
  ...BASE_ENV,
  WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXXSECRET?token=alsosecret',
  WEBHOOK_HEADERS: '{"Authorization":"Bearer HEADERSECRET","Content-Type":"application/json","X-Api-Key":"KEYSECRET"}',
  WEBHOOK_PROXY: 'http://proxyuser:PROXYSECRET@proxy.internal:3128',
};

describe('redactUrl', () => {
  it('url-origin keeps scheme and host only', () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/T/B/X', 'url-origin'), 'https://hooks.slack.com/***');
    assert.equal(redactUrl('https://u:p@example.com:8443/?k=v', 'url-origin'), 'https://example.com:8443/***');
    assert.equal(redactUrl('https://example.com', 'url-origin'), 'https://example.com');
    assert.equal(redactUrl('not a url with secret', 'url-origin'), REDACTED);
  });

  it('url-credentials hides user and password only', () => {
    assert.equal(redactUrl('http://u:p@proxy:3128', 'url-credentials'), 'http://***:***@proxy:3128/');
    assert.equal(redactUrl('http://proxy:3128', 'url-credentials'), 'http://proxy:3128');
  });
});

describe('redactConfig / configView', () => {
  it('hide every secret and keep the rest', () => {
    const loaded = load([], SECRET_ENV);
    const text = JSON.stringify([redactConfig(loaded.config), configView(loaded)]);
    for (const secret of ['XXXXSECRET', 'alsosecret', 'HEADERSECRET', 'KEYSECRET', 'PROXYSECRET', 'proxyuser', 'T000']) {
      assert.ok(!text.includes(secret), `${secret} leaked`);
    }
    const r = redactConfig(loaded.config);
    assert.equal(r.webhookUrl, 'https://hooks.slack.com/***');
    assert.deepEqual(r.webhookHeaders, { Authorization: REDACTED, 'Content-Type': 'application/json', 'X-Api-Key': REDACTED });
    assert.equal(r.webhookProxy, 'http://***:***@proxy.internal:3128/');
    assert.equal(r.nodeName, loaded.config.nodeName);
    // The original is untouched.
    assert.equal(loaded.config.webhookHeaders.Authorization, 'Bearer HEADERSECRET');
  });

  it('configView is keyed by env name, in input units, with sources', () => {
    const loaded = load(['--node-termination-grace-period', '90'], { ...BASE_ENV, SPOT_GUARD_SCALE_TIMEOUT: '90' });
    const view = configView(loaded);
    assert.equal(view.config.NODE_NAME, BASE_ENV.NODE_NAME);
    assert.equal(view.sources.NODE_NAME, 'env');
    assert.equal(view.config.NODE_TERMINATION_GRACE_PERIOD, 90);
    assert.equal(view.sources.NODE_TERMINATION_GRACE_PERIOD, 'flag');
    assert.equal(view.config.SPOT_GUARD_SCALE_TIMEOUT, '1m30s');
    assert.equal(view.config.IMDS_POLL_INTERVAL, '2s');
    assert.equal(view.sources.IMDS_POLL_INTERVAL, 'default');
    assert.equal(view.config.WEBHOOK_URL, null);
    assert.equal(view.config.POD_TERMINATION_GRACE_PERIOD, -1);
  });
});
