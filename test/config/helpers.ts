import assert from 'node:assert/strict';
import { loadConfigDetailed } from '../../src/config/load.js';
import { ConfigError, type LoadDeps, type LoadedConfig } from '../../src/config/schema.js';

/** No files readable: NAMESPACE falls back to `default`, template files do not exist. */
export const noFiles: LoadDeps = { readFile: () => undefined };

export function filesDeps(files: Record<string, string>): LoadDeps {
  return { readFile: (p) => files[p] };
}

export const BASE_ENV = { NODE_NAME: 'ip-10-0-0-1.ec2.internal' } as const;

export function load(argv: string[] = [], env: NodeJS.ProcessEnv = BASE_ENV, deps: LoadDeps = noFiles): LoadedConfig {
  return loadConfigDetailed(argv, env, deps);
}

/** The problems of an invalid configuration (fails the test if it is valid). */
export function problems(argv: string[] = [], env: NodeJS.ProcessEnv = BASE_ENV, deps: LoadDeps = noFiles): string[] {
  try {
    loadConfigDetailed(argv, env, deps);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be invalid');
}

/** Asserts exactly one problem, containing every fragment. */
export function assertOneProblem(found: string[], ...fragments: string[]): void {
  assert.equal(found.length, 1, `expected one problem, got:\n${found.join('\n')}`);
  for (const f of fragments) assert.ok(found[0]!.includes(f), `problem ${JSON.stringify(found[0])} lacks ${JSON.stringify(f)}`);
}
