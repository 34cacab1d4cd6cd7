/**
 * The Dockerfile, statically (no Docker engine in CI here): multi-stage, production dependencies
 * only, non-root user = the chart's runAsUser, the bundle `npm run build` produces started with node.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chartValues } from './helm.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
const stages = lines.reduce<string[][]>((acc, l) => {
  if (/^FROM\s/i.test(l)) acc.push([]);
  acc.at(-1)?.push(l);
  return acc;
}, []);
const runtime = stages.at(-1)!;

describe('container image (Dockerfile)', () => {
  it('is multi-stage: build, production dependencies, runtime', () => {
    assert.ok(stages.length >= 3);
    assert.ok(lines.some((l) => /RUN npm run build/.test(l)));
    assert.ok(lines.some((l) => /RUN npm ci --omit=dev/.test(l)));
  });

  it('copies what `npm run build` produces (tsconfig.build.json outDir)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json');
    const build = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    assert.equal(build.compilerOptions.outDir, 'dist');
    assert.equal(build.compilerOptions.rootDir, 'src');
    assert.ok(runtime.some((l) => /COPY --from=build .*\/src\/dist \.\/dist/.test(l)));
    assert.ok(runtime.some((l) => /COPY --from=deps .*node_modules/.test(l)));
    assert.match(readFileSync(join(ROOT, 'bin/spot-guard.js'), 'utf8'), /dist\/cli\/main\.js/);
    assert.ok(existsSync(join(ROOT, 'src/cli/main.ts')));
  });

  it('runs the bundle with plain node, as a non-root user the chart expects', () => {
    const entry = runtime.find((l) => /^ENTRYPOINT/.test(l))!;
    assert.deepEqual(JSON.parse(entry.replace(/^ENTRYPOINT\s+/, '')), ['/nodejs/bin/node', 'dist/cli/main.js']);
    const user = runtime.find((l) => /^USER/.test(l))!.split(/\s+/)[1]!;
    const [uid, gid] = user.split(':').map(Number);
    assert.ok(uid! > 0 && gid! > 0);
    const psc = chartValues().podSecurityContext as { runAsUser: number; runAsGroup: number };
    assert.equal(psc.runAsUser, uid);
    assert.equal(psc.runAsGroup, gid);
    assert.ok(!runtime.some((l) => /^RUN\s/.test(l)), 'the distroless runtime stage has no shell to RUN');
  });

  it('.dockerignore keeps the build context to what the Dockerfile copies', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin']) assert.ok(!ignored.includes(needed), needed);
    for (const heavy of ['node_modules', 'dist', '.git', 'test']) assert.ok(ignored.includes(heavy), heavy);
  });
});
