import { parseArgs } from 'node:util';

export interface NumberOption {
  default: number;
  min: number;
  description: string;
}

export class UsageError extends Error {}

/** Parses `--name value` (or `--name=value`) flags into numbers; anything else is a usage error. */
export function parseNumberOptions<Name extends string>(
  argv: string[],
  spec: Record<Name, NumberOption>,
): Record<Name, number> {
  const names = Object.keys(spec) as Name[];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const parsed = {} as Record<Name, number>;
  for (const name of names) {
    const raw = values[name];
    const option = spec[name];
    if (typeof raw !== 'string') {
      parsed[name] = option.default;
      continue;
    }
    const value = Number(raw);
    if (!Number.isFinite(value) || value < option.min) {
      throw new UsageError(`--${name} must be a number ≥ ${option.min} (got "${raw}")`);
    }
    parsed[name] = value;
  }
  return parsed;
}

export function describeOptions(spec: Record<string, NumberOption>): string {
  const width = Math.max(...Object.keys(spec).map((name) => name.length));
  return Object.entries(spec)
    .map(
      ([name, option]) =>
        `    --${name.padEnd(width)} <n>  ${option.description} (default ${option.default})`,
    )
    .join('\n');
}
