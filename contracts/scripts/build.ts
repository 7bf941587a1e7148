/**
 * Compiles contracts/solidity/**.sol with solc-js (standard JSON) and writes what reviewers read and code
 * imports: contracts/artifacts/<Contract>.json and contracts/src/generated/<contract-name>.ts.
 *
 *   npm run build -w contracts              compile and write
 *   npm run build -w contracts -- --check   compile in memory; exit 1 when the committed files differ
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import solcModule from 'solc';

/** solc-js declares its API as `any`: the part used here, typed. */
const solc = solcModule as unknown as {
  compile(
    input: string,
    callbacks: { import: (path: string) => { contents: string } | { error: string } },
  ): string;
  version(): string;
};

const contractsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sourcesDir = path.join(contractsDir, 'solidity');
const artifactsDir = path.join(contractsDir, 'artifacts');
const generatedDir = path.join(contractsDir, 'src', 'generated');
const require = createRequire(path.join(contractsDir, 'package.json'));

/** Part of every artifact: a change here is a change of every bytecode. */
export const compilerSettings = {
  // Runs tuned for call cost: certificates are issued many times, deployed once.
  optimizer: { enabled: true, runs: 10_000 },
  // OpenZeppelin 5.7 uses mcopy (cancun); every chain we target has it.
  evmVersion: 'cancun',
} as const;

interface SolcMessage {
  severity: 'error' | 'warning' | 'info';
  type: string;
  errorCode?: string;
  formattedMessage: string;
}

interface SolcContract {
  abi: unknown[];
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
}

interface SolcOutput {
  errors?: SolcMessage[];
  contracts?: Record<string, Record<string, SolcContract>>;
}

export interface CompiledContract {
  contractName: string;
  /** Source unit, relative to contracts/ (e.g. solidity/SymbeonCertificate.sol). */
  sourceName: string;
  abi: unknown[];
  bytecode: `0x${string}`;
  deployedBytecode: `0x${string}`;
}

function solidityFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) return solidityFiles(full);
      return entry.name.endsWith('.sol') ? [full] : [];
    })
    .sort();
}

/** Imports are either ours (source units under solidity/) or packages resolved from node_modules. */
function findImport(importPath: string): { contents: string } | { error: string } {
  try {
    const file = importPath.startsWith('solidity/')
      ? path.join(contractsDir, importPath)
      : require.resolve(importPath);
    return { contents: readFileSync(file, 'utf8') };
  } catch (error) {
    return { error: `cannot find ${importPath}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Compiles every source; throws with solc's messages on errors, returns the warnings. */
export function compile(): { contracts: CompiledContract[]; warnings: string[]; version: string } {
  const sources = Object.fromEntries(
    solidityFiles(sourcesDir).map((file) => [
      path.relative(contractsDir, file).split(path.sep).join('/'),
      { content: readFileSync(file, 'utf8') },
    ]),
  );
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...compilerSettings,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput;
  const messages = output.errors ?? [];
  const errors = messages.filter((message) => message.severity === 'error');
  if (errors.length > 0) {
    throw new Error(`solc failed:\n${errors.map((message) => message.formattedMessage).join('\n')}`);
  }
  const contracts: CompiledContract[] = [];
  for (const sourceName of Object.keys(sources)) {
    for (const [contractName, contract] of Object.entries(output.contracts?.[sourceName] ?? {})) {
      // Interfaces and abstract contracts have no bytecode: their ABIs are inside the contracts'.
      if (!contract.evm.bytecode.object) continue;
      contracts.push({
        contractName,
        sourceName,
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      });
    }
  }
  const names = contracts.map(({ contractName }) => contractName);
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate) throw new Error(`two contracts are named ${duplicate}: artifacts are named by contract`);
  return {
    contracts,
    warnings: messages.filter((m) => m.severity !== 'error').map((m) => m.formattedMessage),
    version: solc.version(),
  };
}

/** SymbeonCertificate -> symbeon-certificate, TestUSDC -> test-usdc. */
export function kebabCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

/** SymbeonCertificate -> symbeonCertificate, TestUSDC -> testUsdc. */
export function camelCase(name: string): string {
  return kebabCase(name).replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Every file the build owns, path (relative to contracts/) -> content, formatted as prettier would. */
async function expectedFiles(compiled: ReturnType<typeof compile>): Promise<Map<string, string>> {
  const prettierOptions = (await resolveConfig(path.join(contractsDir, 'package.json'))) ?? {};
  const formatted = (file: string, text: string) => format(text, { ...prettierOptions, filepath: file });
  const files = new Map<string, string>();
  const header = (source: string) =>
    `// Generated by contracts/scripts/build.ts from contracts/${source}: do not edit, run \`npm run build -w contracts\`.\n`;
  for (const contract of compiled.contracts) {
    const artifactPath = `artifacts/${contract.contractName}.json`;
    const artifact = {
      contractName: contract.contractName,
      sourceName: contract.sourceName,
      abi: contract.abi,
      bytecode: contract.bytecode,
      deployedBytecode: contract.deployedBytecode,
      compiler: { version: compiled.version, settings: compilerSettings },
    };
    files.set(artifactPath, await formatted(artifactPath, JSON.stringify(artifact)));

    const modulePath = `src/generated/${kebabCase(contract.contractName)}.ts`;
    const name = camelCase(contract.contractName);
    const module =
      header(contract.sourceName) +
      `export const ${name}Abi = ${JSON.stringify(contract.abi)} as const;\n\n` +
      `export const ${name}Bytecode = '${contract.bytecode}' as const;\n\n` +
      '/** Runtime code: what the chain holds at a deployed address (no immutables, so an exact match). */\n' +
      `export const ${name}DeployedBytecode = '${contract.deployedBytecode}' as const;\n`;
    files.set(modulePath, await formatted(modulePath, module));
  }
  const index =
    `// Generated by contracts/scripts/build.ts: do not edit, run \`npm run build -w contracts\`.\n` +
    compiled.contracts
      .map(({ contractName }) => `export * from './${kebabCase(contractName)}.js';`)
      .sort()
      .join('\n') +
    '\n';
  files.set('src/generated/index.ts', await formatted('src/generated/index.ts', index));
  return files;
}

/** Files the build wrote before that it would not write now (a contract was renamed or removed). */
function staleFiles(expected: Map<string, string>): string[] {
  const present = [
    ...(existsSync(artifactsDir) ? readdirSync(artifactsDir).map((file) => `artifacts/${file}`) : []),
    ...(existsSync(generatedDir) ? readdirSync(generatedDir).map((file) => `src/generated/${file}`) : []),
  ];
  return present.filter((file) => !expected.has(file));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const compiled = compile();
  for (const warning of compiled.warnings) process.stderr.write(`${warning}\n`);
  const expected = await expectedFiles(compiled);
  const stale = staleFiles(expected);

  if (values.check) {
    const differing = [...expected]
      .filter(([file, content]) => {
        const full = path.join(contractsDir, file);
        return !existsSync(full) || readFileSync(full, 'utf8') !== content;
      })
      .map(([file]) => file);
    const problems = [...differing.map((file) => `  differs or missing: contracts/${file}`)];
    problems.push(...stale.map((file) => `  not produced by the sources: contracts/${file}`));
    if (problems.length > 0) {
      process.stderr.write(
        `The committed contract artifacts do not match contracts/solidity (solc ${compiled.version}):\n` +
          `${problems.join('\n')}\nRun \`npm run build -w contracts\` and commit the result.\n`,
      );
      process.exit(1);
    }
    process.stdout.write(
      `contracts: ${compiled.contracts.length} artifacts match the sources (solc ${compiled.version})\n`,
    );
    return;
  }

  mkdirSync(artifactsDir, { recursive: true });
  mkdirSync(generatedDir, { recursive: true });
  for (const file of stale) rmSync(path.join(contractsDir, file));
  for (const [file, content] of expected) writeFileSync(path.join(contractsDir, file), content);
  process.stdout.write(
    `contracts: compiled ${compiled.contracts.map(({ contractName }) => contractName).join(', ')} ` +
      `with solc ${compiled.version}\n`,
  );
}

await main();
