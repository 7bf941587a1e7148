import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/results/ (gitignored). */
export const resultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../results');

/** Writes bench/results/<name>-<timestamp>.json and returns its path. */
export function writeResults(name: string, payload: unknown): string {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
  const file = path.join(resultsDir, `${name}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}

/** The machine a result was measured on: absolute numbers only compare on the same one. */
export function machineFacts() {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / 1024 / 1024),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

/**
 * Other work on the machine skews every number: say so when the load average shows it. Call it before the
 * benchmark starts anything (the benchmark's own processes raise the load average).
 */
export function loadNote(): string {
  const [oneMinute = 0] = os.loadavg();
  const cpus = os.cpus().length;
  const busy = oneMinute > cpus * 0.5;
  return (
    `machine load before starting: 1-minute load average ${round(oneMinute, 2)} on ${cpus} CPUs` +
    (busy ? ' — other processes are busy, numbers are noisy (re-run on an idle machine for references)' : '')
  );
}

/** Lines a service printed at warn level or above (pino levels 40+, or plain text saying so), at most 10. */
export function warningLines(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => {
      const level = /^\{.*"level":\s*"?(\w+)"?/.exec(line)?.[1];
      if (level === undefined) return /warn|error/i.test(line);
      return ['warn', 'error', 'fatal'].includes(level) || Number(level) >= 40;
    })
    .slice(0, 10)
    .map((line) => line.slice(0, 500));
}

/** Plain-text table; numbers right-aligned. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) =>
    rows.every((row) => typeof row[column] === 'number' || /^[\d.,x%-]+$/.test(String(row[column]))),
  );
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [
    line(cells[0]!),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export const print = (text = '') => process.stdout.write(`${text}\n`);

/**
 * Cleanups that must run even when the bench is interrupted (Ctrl-C) or fails: stop child processes,
 * close servers, remove temporary folders. Each runs once, last registered first.
 */
export class Cleanup {
  private readonly tasks: Array<{ label: string; run: () => unknown }> = [];
  private readonly onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: cleaning up...\n`);
    void this.runAll().finally(() => process.exit(130));
  };

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  add(label: string, run: () => unknown): () => Promise<void> {
    const task = { label, run };
    this.tasks.push(task);
    return async () => {
      const index = this.tasks.indexOf(task);
      if (index === -1) return;
      this.tasks.splice(index, 1);
      await task.run();
    };
  }

  async runAll(): Promise<void> {
    while (this.tasks.length > 0) {
      const task = this.tasks.pop()!;
      try {
        await task.run();
      } catch (error) {
        process.stderr.write(`cleanup "${task.label}" failed: ${String(error)}\n`);
      }
    }
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
