import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Adapted from tests/kit/processes.ts and tests/kit/stack.ts (bench may not import tests/).

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const STACK_ENTRY = 'stack/src/index.ts';
export const GATEWAY_ENTRY = 'gateway/src/index.ts';

/** What `npm start` prints once everything listens. */
const GATEWAY_LINE = /GraphQL API \+ Apollo Sandbox\s+(http:\/\/\S+?)\/graphql/;
const IDENTITY_LINE = /identity subgraph\s+(http:\/\/\S+?)\/graphql/;
const LEARNING_LINE = /learning subgraph\s+(http:\/\/\S+?)\/graphql/;

export interface StackUrls {
  /** Origins, e.g. http://127.0.0.1:41234 (GraphQL at /graphql). */
  gateway: string;
  identity: string;
  learning: string;
  /** Every subgraph the banner lists (identity, learning, chain...), name → origin. */
  subgraphs: Record<string, string>;
}

export interface NodeProcess {
  entry: string;
  /** The node process itself (spawned from process.execPath, no npm or tsx CLI wrapper). */
  child: ChildProcess;
  pid: number;
  /** process.hrtime.bigint() right before spawn. */
  spawnedAt: bigint;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exitCode(): number | null | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }>;
}

/**
 * Environment of the embedded profile on ephemeral ports. `undefined` removes a variable inherited from
 * the bench process (e.g. NODE_ENV, so the stack uses its own default).
 */
export function embeddedStackEnv(
  dataDir: string,
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    DATA_DIR: dataDir,
    PORT: '0',
    IDENTITY_PORT: '0',
    LEARNING_PORT: '0',
    CHAIN_PORT: '0',
    CERTIFICATION_PORT: '0',
    ANVIL_PORT: '0',
    DATABASE_URL: '',
    REDIS_URL: '',
    INTROSPECTION: 'true',
    ...overrides,
  };
}

export interface StackProcess extends NodeProcess {
  /** Waits for the three "listening" lines. */
  urls(timeoutMs?: number): Promise<StackUrls>;
}

/** Starts `node --import tsx stack/src/index.ts` from the repository root. */
export function startStackProcess(env: Record<string, string | undefined>): StackProcess {
  const stack = startNodeProcess(STACK_ENTRY, env);
  return {
    ...stack,
    async urls(timeoutMs = 120_000) {
      const [, gateway] = await stack.waitFor(GATEWAY_LINE, timeoutMs);
      const [, identity] = await stack.waitFor(IDENTITY_LINE, 5_000);
      const [, learning] = await stack.waitFor(LEARNING_LINE, 5_000);
      const subgraphs = Object.fromEntries(
        [...stack.output().matchAll(/(\w+) subgraph\s+(http:\/\/\S+?)\/graphql/g)].map(([, name, url]) => [
          name!,
          url!,
        ]),
      );
      return { gateway: gateway!, identity: identity!, learning: learning!, subgraphs };
    },
  };
}

/** Starts `node --import tsx <entry>` from the repository root; `undefined` in `env` unsets a variable. */
export function startNodeProcess(entry: string, env: Record<string, string | undefined>): NodeProcess {
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  const spawnedAt = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', entry],
    {
      cwd: repositoryRoot,
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (child.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${entry}`);
  const pid = child.pid;

  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code;
      exitSignal = signal;
      for (const listener of listeners) listener();
      resolve();
    }),
  );

  const waitFor = (pattern: RegExp, timeoutMs = 120_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = output.match(pattern);
        if (match) return done(() => resolve(match));
        if (exited !== undefined) {
          done(() => reject(new Error(`${entry} exited (${exited}) before printing ${pattern}:\n${output}`)));
        }
      };
      const timer = setTimeout(
        () =>
          done(() => reject(new Error(`${entry} did not print ${pattern} in ${timeoutMs} ms:\n${output}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });

  return {
    entry,
    child,
    pid,
    spawnedAt,
    output: () => output,
    waitFor,
    exitCode: () => exited,
    async stop(graceMs = 15_000) {
      if (exited !== undefined) return { code: exited, signal: exitSignal, forced: false };
      let forced = false;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        forced = true;
        child.kill('SIGKILL');
      }, graceMs);
      await exit;
      clearTimeout(timer);
      return { code: exited ?? null, signal: exitSignal, forced };
    },
  };
}

/** Fields of /proc/<pid>/status in kB (VmHWM = peak resident set, VmRSS = current). */
export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of a process (e.g. a chain node the stack spawns), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** User + system CPU time of a process in milliseconds, from /proc/<pid>/stat. */
export function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is parenthesised and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSecond = 100; // USER_HZ on Linux
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}
