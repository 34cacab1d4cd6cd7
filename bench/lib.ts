/**
 * Shared helpers for the benchmarks in bench/: statistics, bounded waits, cleanup, and spawning the
 * real CLI as a child process. Benchmarks measure wall-clock time (performance.now), never the
 * simulated clock, so every number they print is real milliseconds on this machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/ sits directly under it). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A failure the bench reports as one clear line before exiting non-zero. */
export class BenchError extends Error {
  override name = 'BenchError';
}

/** Monotonic real milliseconds (not affected by wall-clock adjustments). */
export const nowMs = (): number => performance.now();

export const round = (v: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

// --- statistics ------------------------------------------------------------------------------------

/** Nearest-rank percentile (p in 0..100): always one of the observed values, no interpolation. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new BenchError('percentile of an empty sample');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Summary {
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
  samples: number;
}

export function summarize(values: readonly number[], digits = 2): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return {
    p50: round(percentile(values, 50), digits),
    p99: round(percentile(values, 99), digits),
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    mean: round(mean, digits),
    samples: values.length,
  };
}

// --- bounded waits -----------------------------------------------------------------------------------

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every `pollMs` real ms; throws a BenchError naming `what` after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: { what: string; timeoutMs: number; pollMs?: number },
): Promise<void> {
  const end = nowMs() + opts.timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (nowMs() >= end) throw new BenchError(`timed out after ${opts.timeoutMs} ms waiting for: ${opts.what}`);
    await sleepReal(opts.pollMs ?? 5);
  }
}

/** `promise`, or a BenchError naming `what` if it has not settled within `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchError(`timed out after ${timeoutMs} ms waiting for: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A one-shot signal set from a callback (an onPass hook, a kube.onChange listener) that a bench can
 * await with a deadline. The time is taken inside the callback, so awaiting adds no error.
 */
export class Mark {
  at: number | undefined;
  private resolve!: (t: number) => void;
  readonly promise = new Promise<number>((r) => (this.resolve = r));
  set(t = nowMs()): void {
    if (this.at !== undefined) return;
    this.at = t;
    this.resolve(t);
  }
  wait(timeoutMs: number, what: string): Promise<number> {
    return withTimeout(this.promise, timeoutMs, what);
  }
}

// --- cleanup ---------------------------------------------------------------------------------------

const cleanups: { what: string; fn: () => Promise<void> | void }[] = [];

/** Registers teardown work (stop a world, kill a child); runs last-registered first. */
export function onCleanup(what: string, fn: () => Promise<void> | void): () => void {
  const entry = { what, fn };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every registered cleanup, each bounded, reporting (not throwing) failures. */
export async function runCleanups(timeoutMs = 10_000): Promise<void> {
  while (cleanups.length) {
    const { what, fn } = cleanups.pop()!;
    try {
      await withTimeout(Promise.resolve().then(fn), timeoutMs, `cleanup: ${what}`);
    } catch (err) {
      console.error(`warning: cleanup "${what}" failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

// --- child processes -------------------------------------------------------------------------------

export interface CliCommand {
  /** argv after the node executable. */
  args: string[];
  /** Human label for the output ("built bundle" / "tsx, source"). */
  label: string;
  /** True when run from the compiled bundle (dist/); tsx adds a loader and on-the-fly compilation. */
  built: boolean;
}

/** Newest modification time (ms) of any file under `dir`. */
function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * The agent CLI: the built bundle when `npm run build` has produced it and it is newer than every
 * source file, else the sources via tsx. A stale bundle would measure old code, so it is not used.
 */
export function agentCli(subcommand: string[]): CliCommand {
  const bundle = join(REPO_ROOT, 'dist', 'cli', 'main.js');
  const tsx = (why: string): CliCommand => ({
    args: ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...subcommand],
    label: `sources via tsx (${why}: run \`npm run build\` for bundle numbers)`,
    built: false,
  });
  if (!existsSync(bundle)) return tsx('no dist/');
  if (statSync(bundle).mtimeMs < newestMtimeMs(join(REPO_ROOT, 'src'))) return tsx('dist/ is older than src/');
  return { args: [bundle, ...subcommand], label: 'built bundle (dist/cli/main.js)', built: true };
}

export interface ChildHandle {
  child: ChildProcess;
  pid: number;
  /** Real ms (performance.now) just before spawn. */
  spawnedAt: number;
  /** The last lines of stdout+stderr, for error messages. */
  tail(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `node <args>` with exactly `env` added to a minimal environment (PATH, HOME), so the
 * parent's shell variables (e.g. a real KUBECONFIG) cannot leak into the agent. Output is kept in a
 * bounded buffer, not printed: the bench's own stdout must end with its JSON line.
 */
export function spawnNode(args: string[], env: Record<string, string>): ChildHandle {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  const spawnedAt = nowMs();
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new BenchError(`could not spawn node ${args.join(' ')}`);
  let buf = '';
  const keep = (chunk: Buffer) => {
    buf = (buf + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  return {
    child,
    pid: child.pid,
    spawnedAt,
    tail: () => buf.split('\n').slice(-20).join('\n'),
    exited: () => exited,
    async stop(graceMs = 5_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process in MB, from /proc (Linux only). */
export async function readRssMb(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    throw new BenchError(`cannot read /proc/${pid}/status (Linux only; is the process alive?): ${err instanceof Error ? err.message : String(err)}`);
  }
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new BenchError(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssMb: round(kb('VmRSS') / 1024, 1), peakMb: round(kb('VmHWM') / 1024, 1) };
}
