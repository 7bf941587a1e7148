import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anvilBinaryPath, anvilDevAccounts, startAnvil, type AnvilNode } from './anvil.js';

async function rpc<T>(node: AnvilNode, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(node.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** anvil mines right after eth_sendTransaction returns, not before: on a busy machine, poll. */
async function receiptOf(node: AnvilNode, hash: string): Promise<{ status: string; blockNumber: string }> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const receipt = await rpc<{ status: string; blockNumber: string } | null>(
      node,
      'eth_getTransactionReceipt',
      [hash],
    );
    if (receipt) return receipt;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no receipt for ${hash} after 5 s`);
}

const folder = mkdtempSync(path.join(tmpdir(), 'symbeon-anvil-test-'));
const running = new Set<AnvilNode>();

async function start(options: Parameters<typeof startAnvil>[0]): Promise<AnvilNode> {
  const node = await startAnvil(options);
  running.add(node);
  return node;
}

afterAll(async () => {
  await Promise.all([...running].map((node) => node.stop()));
  rmSync(folder, { recursive: true, force: true });
});

describe('startAnvil', () => {
  it('starts on a free port when asked for port 0 and answers as chain 31337 with the dev accounts', async () => {
    const node = await start({ port: 0 });
    expect(node.port).toBeGreaterThan(0);
    expect(node.rpcUrl).toBe(`http://127.0.0.1:${node.port}`);
    expect(Number(await rpc<string>(node, 'eth_chainId'))).toBe(31337);
    const accounts = await rpc<string[]>(node, 'eth_accounts');
    expect(accounts.map((address) => address.toLowerCase())).toEqual(
      anvilDevAccounts.map(({ address }) => address.toLowerCase()),
    );
    expect(anvilDevAccounts[0].address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    await node.stop();
    running.delete(node);
    await expect(rpc(node, 'eth_chainId')).rejects.toThrow();
  });

  it('uses the chain id it is given', async () => {
    const node = await start({ port: 0, chainId: 4242 });
    expect(Number(await rpc<string>(node, 'eth_chainId'))).toBe(4242);
  });

  it('keeps the chain in the state file across a restart', async () => {
    const stateFile = path.join(folder, 'state.json');
    const [from, to] = [anvilDevAccounts[0].address, anvilDevAccounts[1].address];
    const first = await start({ port: 0, stateFile });
    const hash = await rpc<string>(first, 'eth_sendTransaction', [
      { from, to, value: '0xde0b6b3a7640000' /* 1 ETH */ },
    ]);
    const receipt = await receiptOf(first, hash);
    expect(receipt.status).toBe('0x1');
    await rpc(first, 'evm_mine');
    const blockNumber = await rpc<string>(first, 'eth_blockNumber');
    const balance = await rpc<string>(first, 'eth_getBalance', [to, 'latest']);
    expect(Number(blockNumber)).toBe(2);
    expect(BigInt(balance)).toBe(10_001n * 10n ** 18n);
    await first.stop();
    running.delete(first);
    expect(existsSync(stateFile)).toBe(true);

    const second = await start({ port: 0, stateFile });
    expect(await rpc<string>(second, 'eth_blockNumber')).toBe(blockNumber);
    expect(await rpc<string>(second, 'eth_getBalance', [to, 'latest'])).toBe(balance);
    const kept = await rpc<{ blockNumber: string } | null>(second, 'eth_getTransactionReceipt', [hash]);
    expect(kept?.blockNumber).toBe(receipt.blockNumber);
  });

  it('fails with anvil’s own words when it exits before listening (port already taken)', async () => {
    const taken = await start({ port: 0 });
    await expect(startAnvil({ port: taken.port })).rejects.toThrow(/exited \(code \d+\) before listening/);
    // The first node is unaffected.
    expect(Number(await rpc<string>(taken, 'eth_chainId'))).toBe(31337);
  });

  it('fails clearly when the binary is missing', async () => {
    expect(anvilBinaryPath()).toMatch(/anvil$/);
    const missing = path.join(folder, 'no-such-anvil');
    await expect(startAnvil({ binary: missing })).rejects.toThrow(
      `The anvil binary is missing at ${missing}`,
    );
  });
});
