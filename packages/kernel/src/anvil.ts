import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * anvil's well-known dev accounts, derived from its public test mnemonic
 * ("test test test test test test test test test test test junk", m/44'/60'/0'/0/i), each funded with
 * 10,000 ETH on a fresh node. Test keys only: they hold nothing anywhere but a local chain.
 */
export const anvilDevAccounts = [
  {
    address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  },
  {
    address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  },
  {
    address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    privateKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  },
  {
    address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    privateKey: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  },
  {
    address: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
    privateKey: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  },
  {
    address: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc',
    privateKey: '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  },
  {
    address: '0x976EA74026E726554dB657fA54763abd0C3a0aa9',
    privateKey: '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  },
  {
    address: '0x14dC79964da2C08b23698B3D3cc7Ca32193d9955',
    privateKey: '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  },
  {
    address: '0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f',
    privateKey: '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  },
  {
    address: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720',
    privateKey: '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
  },
] as const;

export type AnvilDevAccount = (typeof anvilDevAccounts)[number];

export interface AnvilOptions {
  /** TCP port; 0 (the default) lets the system pick a free one. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Chain id (default 31337). */
  chainId?: number;
  /**
   * anvil `--state`: the chain is loaded from this file when it exists and written back to it when the node
   * stops (SIGTERM), so a restart continues where the last run ended.
   */
  stateFile?: string;
  /** Seconds between blocks (interval mining); unset mines one block per transaction. */
  blockTime?: number;
  /** Keep anvil's output to itself (default true); false hands each line to `onOutput`. */
  silent?: boolean;
  /** Where anvil's lines go when `silent` is false (default: stderr, prefixed with `[anvil]`). */
  onOutput?: (line: string) => void;
  /** The anvil executable; default: the platform binary of @foundry-rs/anvil. */
  binary?: string;
  /** How long to wait for the node to answer (default 30 s). */
  timeoutMs?: number;
}

export interface AnvilNode {
  /** http://<host>:<port> */
  rpcUrl: string;
  port: number;
  /** The process id of anvil itself. */
  pid: number;
  /** SIGTERM, then waits for exit (anvil writes `stateFile` on the way out); SIGKILL after 10 s. */
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** The platform package @foundry-rs/anvil installs as an optional dependency. */
function platformPackage(): string | undefined {
  const arches: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
  const arch = arches[process.arch];
  if (!arch) return undefined;
  if (process.platform === 'linux' || process.platform === 'darwin') {
    return `@foundry-rs/anvil-${process.platform}-${arch}`;
  }
  if (process.platform === 'win32' && arch === 'amd64') return '@foundry-rs/anvil-win32-amd64';
  return undefined;
}

/**
 * The anvil binary itself, spawned directly: the package's `anvil` bin is a node wrapper that adds a second
 * process between us and the node (signals forwarded, not always the exit status).
 */
export function anvilBinaryPath(): string {
  const name = platformPackage();
  if (!name) throw new Error(`anvil has no binary for ${process.platform}/${process.arch}`);
  let folder: string;
  try {
    folder = path.dirname(require.resolve(`${name}/package.json`));
  } catch (error) {
    throw new Error(
      `The anvil binary package ${name} is not installed (it is an optional dependency of ` +
        '@foundry-rs/anvil in packages/kernel): run `npm ci` on this platform.',
      { cause: error },
    );
  }
  const binary = path.join(folder, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  if (!existsSync(binary)) throw new Error(`The anvil binary is missing at ${binary}: reinstall ${name}.`);
  return binary;
}

const LISTENING = /Listening on (\S+):(\d+)/;
/** Bytes of output kept for error messages. */
const OUTPUT_TAIL = 16_384;

async function chainIdAt(rpcUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await response.json()) as { result?: unknown };
    return typeof body.result === 'string' ? Number(body.result) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a local chain node. Resolves once it answers `eth_chainId` with the requested chain id; rejects
 * with anvil's own output when the binary is missing, exits early (port taken, unreadable state file...)
 * or does not answer in time.
 */
export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilNode> {
  const host = options.host ?? '127.0.0.1';
  const chainId = options.chainId ?? 31337;
  const silent = options.silent ?? true;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const onOutput = options.onOutput ?? ((line: string) => process.stderr.write(`[anvil] ${line}\n`));
  const binary = options.binary ?? anvilBinaryPath();
  if (!existsSync(binary)) throw new Error(`The anvil binary is missing at ${binary}`);

  // Not --silent: the "Listening on" line is how a port picked by the system (port 0) becomes known.
  const args = ['--host', host, '--port', String(options.port ?? 0), '--chain-id', String(chainId)];
  if (options.stateFile) args.push('--state', options.stateFile);
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime));
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  let output = '';
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_TAIL);
    if (silent) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onOutput(line);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  // A parent that exits without stop() (a crashed test worker) must not leave the node running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  };

  const fail = async (reason: string): Promise<never> => {
    await stop();
    throw new Error(`anvil (${binary} ${args.join(' ')}) ${reason}${output ? `:\n${output.trim()}` : ''}`);
  };

  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawned) return fail(`could not be started (${spawned.message})`);
  const pid = child.pid;
  if (pid === undefined) return fail('has no process id');

  const deadline = Date.now() + timeoutMs;
  let port: number | undefined;
  while (port === undefined) {
    const match = LISTENING.exec(output);
    if (match) port = Number(match[2]);
    else if (exited) return fail(`exited (code ${child.exitCode}) before listening`);
    else if (Date.now() > deadline) return fail(`did not listen within ${timeoutMs} ms`);
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }

  const rpcUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  for (;;) {
    const answered = await chainIdAt(rpcUrl);
    if (answered === chainId) break;
    if (answered !== undefined) return fail(`answered chain id ${answered} instead of ${chainId}`);
    if (exited) return fail(`exited (code ${child.exitCode}) before answering eth_chainId`);
    if (Date.now() > deadline) return fail(`did not answer eth_chainId within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  return { rpcUrl, port, pid, stop };
}
