import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { optionEntries, REFUSED_OPTIONS } from '../../src/config/options.js';
import { CONFIGURATION_DOC_PATH, renderConfigurationMarkdown } from '../../src/config/render-docs.js';
import { RULES } from '../../src/config/rules.js';

describe('docs/configuration.md', () => {
  it('equals the rendered option table (regenerate: npx tsx src/config/render-docs.ts)', () => {
    const committed = readFileSync(CONFIGURATION_DOC_PATH, 'utf8');
    assert.equal(committed, renderConfigurationMarkdown());
  });

  it('mentions every option, refused option and rule', () => {
    const md = renderConfigurationMarkdown();
    for (const { flag, def } of optionEntries()) {
      assert.ok(md.includes(`\`${def.env}\``), def.env);
      assert.ok(md.includes(`\`${flag}\``), flag);
    }
    for (const r of REFUSED_OPTIONS) assert.ok(md.includes(`\`${r.env}\``), r.env);
    for (const rule of RULES) assert.ok(md.includes(rule.doc), rule.id);
  });
});
