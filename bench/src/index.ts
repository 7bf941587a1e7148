import { gasBenchmark } from './benchmarks/gas.js';
import { gatewayBenchmark } from './benchmarks/gateway.js';
import { startupBenchmark } from './benchmarks/startup.js';
import { subscriptionsBenchmark } from './benchmarks/subscriptions.js';
import { verifyBenchmark } from './benchmarks/verify.js';
import { UsageError } from './kit/options.js';

// `npm run bench -- <name> [flags]`. Benchmarks report; they never fail the process on a slow result.
const benchmarks = [
  gatewayBenchmark,
  startupBenchmark,
  gasBenchmark,
  subscriptionsBenchmark,
  verifyBenchmark,
];

function usage(): string {
  return [
    'usage: npm run bench -- <name> [flags]',
    '',
    ...benchmarks.flatMap((benchmark) => [
      `  ${benchmark.name.padEnd(8)} ${benchmark.summary}`,
      benchmark.usage,
    ]),
    '',
    'results are printed and written to bench/results/<name>-<timestamp>.json',
  ].join('\n');
}

const [name, ...rest] = process.argv.slice(2);
const benchmark = benchmarks.find((candidate) => candidate.name === name);
if (!benchmark) {
  const help = name === '--help' || name === '-h';
  if (!help) process.stderr.write(name ? `unknown benchmark "${name}"\n\n` : 'which benchmark?\n\n');
  process.stderr.write(`${usage()}\n`);
  process.exit(help ? 0 : 1);
}

try {
  await benchmark.run(rest);
  // Keep-alive sockets or timers left by a library must not keep a finished benchmark alive.
  process.exit(0);
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${usage()}\n`);
  } else {
    process.stderr.write(
      `benchmark "${benchmark.name}" failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
  }
  process.exit(1);
}
