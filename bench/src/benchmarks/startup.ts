import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeOptions, parseNumberOptions, type NumberOption } from '../kit/options.js';
import {
  Cleanup,
  loadNote,
  machineFacts,
  median,
  print,
  round,
  table,
  warningLines,
  writeResults,
} from '../kit/report.js';
import {
  childPids,
  embeddedStackEnv,
  procStatusKb,
  startStackProcess,
  STACK_ENTRY,
  type StackProcess,
} from '../kit/node-processes.js';

const options = {
  runs: { default: 3, min: 1, description: 'fresh + reused start pairs' },
  timeout: { default: 120, min: 5, description: 'seconds a start may take before it counts as failed' },
} satisfies Record<string, NumberOption>;

export const startupBenchmark = {
  name: 'startup',
  summary: "`npm start`'s time to a ready gateway (fresh and reused data folder) and peak RSS",
  usage: describeOptions(options),
  run: runStartupBenchmark,
};

const TARGETS = { freshSeconds: 15, reusedSeconds: 5, peakRssMb: 800 };
const POLL_MS = 50;

type DataDirState = 'fresh' | 'reused';

interface StartMeasurement {
  run: number;
  dataDir: DataDirState;
  /** From spawn until the "Symbeon is up" lines are printed. */
  printedSeconds: number;
  /** From spawn until GET /ready answered 200. */
  readySeconds: number;
  /** What the stack says about itself ("Symbeon is up ... in N s"), measured from inside the process. */
  selfReportedSeconds: number | null;
  /** printed − self-reported: loading and compiling modules before the stack's own clock starts. */
  beforeSelfClockSeconds: number | null;
  readyPolls: number;
  /** VmHWM of the node process, read right before SIGTERM. */
  peakRssMb: number | null;
  /** VmRSS at the same moment: what stays resident once started. */
  rssAtReadyMb: number | null;
  childProcesses: Array<{ pid: number; peakRssMb: number | null }>;
  stopSeconds: number;
  exit: { code: number | null; signal: string | null; forced: boolean };
  /** Lines the stack printed at warn level or above (pino levels 40+), at most 10. */
  warnings: string[];
  /** What the stack printed after SIGTERM. */
  shutdownOutput: string;
}

const toMb = (kb: number | undefined) => (kb === undefined ? null : round(kb / 1024, 0));

async function pollReady(origin: string, stack: StackProcess, deadline: number): Promise<number> {
  let polls = 0;
  for (;;) {
    polls += 1;
    const status = await fetch(`${origin}/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return polls;
    if (stack.exitCode() !== undefined)
      throw new Error(`the stack exited (${stack.exitCode()}):\n${stack.output()}`);
    if (Date.now() > deadline)
      throw new Error(`${origin}/ready did not answer 200 in time:\n${stack.output()}`);
    await sleep(POLL_MS);
  }
}

async function measureStart(
  run: number,
  dataDirState: DataDirState,
  dataDir: string,
  timeoutSeconds: number,
  cleanup: Cleanup,
): Promise<StartMeasurement> {
  // NODE_ENV and LOG_LEVEL unset: the defaults `npm start` runs with.
  const stack = startStackProcess(embeddedStackEnv(dataDir, { NODE_ENV: undefined, LOG_LEVEL: undefined }));
  const stop = cleanup.add(`stop stack ${stack.pid}`, () => stack.stop());
  const deadline = Date.now() + timeoutSeconds * 1000;
  const sinceSpawn = () => round(Number(process.hrtime.bigint() - stack.spawnedAt) / 1e9, 2);
  try {
    const urls = await stack.urls(timeoutSeconds * 1000);
    const printedSeconds = sinceSpawn();
    const readyPolls = await pollReady(urls.gateway, stack, deadline);
    const readySeconds = sinceSpawn();
    const selfReported = /Symbeon is up \([^)]*\) in ([\d.]+) s/.exec(stack.output())?.[1];
    const peakRssMb = toMb(procStatusKb(stack.pid, 'VmHWM'));
    const rssAtReadyMb = toMb(procStatusKb(stack.pid, 'VmRSS'));
    const childProcesses = childPids(stack.pid).map((pid) => ({
      pid,
      peakRssMb: toMb(procStatusKb(pid, 'VmHWM')),
    }));
    const outputBeforeStop = stack.output().length;
    const stopStarted = process.hrtime.bigint();
    const exit = await stack.stop();
    const stopSeconds = round(Number(process.hrtime.bigint() - stopStarted) / 1e9, 2);
    return {
      run,
      dataDir: dataDirState,
      printedSeconds,
      readySeconds,
      selfReportedSeconds: selfReported ? Number(selfReported) : null,
      beforeSelfClockSeconds: selfReported ? round(printedSeconds - Number(selfReported), 1) : null,
      readyPolls,
      peakRssMb,
      rssAtReadyMb,
      childProcesses,
      stopSeconds,
      exit,
      warnings: warningLines(stack.output().slice(0, outputBeforeStop)),
      shutdownOutput: stack.output().slice(outputBeforeStop).trim().slice(0, 1000),
    };
  } finally {
    await stop();
  }
}

const verdict = (value: number | null, target: number) =>
  value === null ? 'n/a' : value <= target ? 'PASS' : 'MISS';

async function runStartupBenchmark(argv: string[]): Promise<void> {
  const settings = parseNumberOptions(argv, options);
  const runs = Math.floor(settings.runs);
  const cleanup = new Cleanup();
  const measurements: StartMeasurement[] = [];
  try {
    print(`startup benchmark: ${runs} × (start on a fresh DATA_DIR, stop, start again on the same DATA_DIR)`);
    print(
      `  \`${path.basename(process.execPath)} --import tsx ${STACK_ENTRY}\` spawned directly (npm start adds npm ` +
        'and the tsx CLI in front of it), embedded profile, ephemeral ports, NODE_ENV and LOG_LEVEL unset;',
    );
    print(
      `  time = spawn → first 200 from GET <gateway>/ready (polled every ${POLL_MS} ms after the URL is printed)`,
    );
    print(`  peak RSS = VmHWM of the node process right before SIGTERM (RSS = VmRSS at that moment)`);
    const machine = machineFacts();
    print(loadNote());
    print();
    for (let run = 1; run <= runs; run += 1) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-bench-startup-'));
      const remove = cleanup.add('remove data dir', () => rmSync(dataDir, { recursive: true, force: true }));
      for (const state of ['fresh', 'reused'] as const) {
        process.stderr.write(`run ${run}/${runs}: ${state} data folder...\n`);
        measurements.push(await measureStart(run, state, dataDir, settings.timeout, cleanup));
      }
      await remove();
    }

    print(
      table(
        [
          'run',
          'data dir',
          'ready s',
          'printed s',
          'self-reported s',
          'before self-clock s',
          'peak RSS MB',
          'RSS MB',
          'stop s',
          'exit',
        ],
        measurements.map((m) => [
          m.run,
          m.dataDir,
          m.readySeconds,
          m.printedSeconds,
          m.selfReportedSeconds ?? '-',
          m.beforeSelfClockSeconds ?? '-',
          m.peakRssMb ?? '-',
          m.rssAtReadyMb ?? '-',
          m.stopSeconds,
          m.exit.forced ? 'SIGKILL' : m.exit.signal ? m.exit.signal : String(m.exit.code),
        ]),
      ),
    );

    const stats = (values: number[]) =>
      values.length > 0 ? { median: round(median(values), 2), max: Math.max(...values) } : null;
    const of = (state: DataDirState, pick: (m: StartMeasurement) => number | null) =>
      stats(
        measurements
          .filter((m) => m.dataDir === state)
          .map(pick)
          .filter((value): value is number => value !== null),
      );
    const summary = {
      freshSeconds: of('fresh', (m) => m.readySeconds),
      reusedSeconds: of('reused', (m) => m.readySeconds),
      freshPeakRssMb: of('fresh', (m) => m.peakRssMb),
      reusedPeakRssMb: of('reused', (m) => m.peakRssMb),
    };
    const rows: Array<[string, keyof typeof summary, number]> = [
      ['fresh start → ready (s)', 'freshSeconds', TARGETS.freshSeconds],
      ['reused start → ready (s)', 'reusedSeconds', TARGETS.reusedSeconds],
      ['peak RSS, fresh start (MB)', 'freshPeakRssMb', TARGETS.peakRssMb],
      ['peak RSS, reused start (MB)', 'reusedPeakRssMb', TARGETS.peakRssMb],
    ];
    const verdicts = Object.fromEntries(
      rows.map(([, key, target]) => [key, verdict(summary[key]?.max ?? null, target)]),
    ) as Record<keyof typeof summary, string>;

    print();
    print(
      table(
        ['measure', 'median', 'max', 'target', 'verdict (max)'],
        rows.map(([label, key, target]) => [
          label,
          summary[key]?.median ?? '-',
          summary[key]?.max ?? '-',
          `≤ ${target}`,
          verdicts[key],
        ]),
      ),
    );
    print('  MB = 1024 × 1024 bytes');
    print(
      '  printed = the "Symbeon is up" lines; self-reported = the time that line states (the stack starts its ' +
        'clock after its imports are loaded); before self-clock = printed − self-reported',
    );

    const children = measurements.flatMap((m) => m.childProcesses);
    if (children.length > 0) {
      print(`  note: the stack had child processes (not included in its RSS): ${JSON.stringify(children)}`);
    }
    const problems = measurements.filter((m) => m.exit.code !== 0 || m.exit.forced || m.warnings.length > 0);
    if (problems.length > 0) print('problems seen in the system under test:');
    for (const m of problems) {
      const exit = `exit code ${m.exit.code} signal ${m.exit.signal}${m.exit.forced ? ' after SIGKILL' : ''}`;
      print(
        `  run ${m.run} (${m.dataDir}): SIGTERM → ${exit}; printed after SIGTERM: ${JSON.stringify(m.shutdownOutput)}`,
      );
      for (const line of m.warnings) print(`    ${line}`);
    }

    const file = writeResults('startup', {
      benchmark: 'startup',
      at: new Date().toISOString(),
      machine,
      settings: { runs, timeoutSeconds: settings.timeout, pollMs: POLL_MS, entry: STACK_ENTRY },
      targets: TARGETS,
      summary: { ...summary, verdicts },
      measurements,
    });
    print();
    print(`results: ${path.relative(process.cwd(), file)}`);
  } finally {
    await cleanup.runAll();
  }
}
