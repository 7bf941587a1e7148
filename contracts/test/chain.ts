import { anvilDevAccounts, startAnvil, type AnvilNode } from '@symbeon/kernel/anvil';
import {
  Contract,
  ContractFactory,
  id,
  isCallException,
  JsonRpcProvider,
  Wallet,
  type BaseContractMethod,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type InterfaceAbi,
  type LogDescription,
} from 'ethers';
import { expect } from 'vitest';

type FunctionNames<Abi> = Abi extends readonly (infer Item)[]
  ? Item extends { type: 'function'; name: infer Name extends string }
    ? Name
    : never
  : never;

/** An ethers contract whose ABI functions are known by name (their arguments and results stay untyped). */
export type ContractOf<Abi> = Contract & { [Name in FunctionNames<Abi>]: BaseContractMethod };

/** The same contract, sending as `signer`. */
export function as<Typed extends Contract>(contract: Typed, signer: Wallet): Typed {
  return contract.connect(signer) as Typed;
}

/** A fresh anvil for one test file, and its dev accounts as wallets with roles in the tests. */
export interface Chain {
  node: AnvilNode;
  provider: JsonRpcProvider;
  /** Deploys and holds DEFAULT_ADMIN_ROLE (dev account 0). */
  admin: Wallet;
  /** Gets ISSUER_ROLE (dev account 1). */
  issuer: Wallet;
  /** Holds no role (dev account 2). */
  stranger: Wallet;
  /** Receive certificates, pay orders (dev accounts 3..9). */
  holders: Wallet[];
  stop(): Promise<void>;
}

export async function startChain(): Promise<Chain> {
  const node = await startAnvil({ port: 0 });
  // anvil mines on every transaction: poll receipts quickly rather than ethers' default 4 s, and never reuse
  // an answer (ethers caches identical requests for 250 ms: a nonce read before the last transaction).
  const provider = new JsonRpcProvider(node.rpcUrl, undefined, {
    staticNetwork: true,
    pollingInterval: 20,
    cacheTimeout: -1,
  });
  const [admin, issuer, stranger, ...holders] = anvilDevAccounts.map(
    ({ privateKey }) => new Wallet(privateKey, provider),
  );
  return {
    node,
    provider,
    admin: admin!,
    issuer: issuer!,
    stranger: stranger!,
    holders,
    async stop() {
      provider.destroy();
      await node.stop();
    },
  };
}

export async function deploy<const Abi extends InterfaceAbi>(
  signer: Wallet,
  abi: Abi,
  bytecode: string,
  ...args: unknown[]
): Promise<ContractOf<Abi>> {
  const deployed = await new ContractFactory(abi, bytecode, signer).deploy(...args);
  await deployed.waitForDeployment();
  return new Contract(await deployed.getAddress(), abi, signer) as ContractOf<Abi>;
}

/** Waits for a transaction and asserts it succeeded. */
export async function mined(
  transaction: Promise<ContractTransactionResponse>,
): Promise<ContractTransactionReceipt> {
  const receipt = await (await transaction).wait();
  expect(receipt?.status).toBe(1);
  return receipt!;
}

/**
 * Asserts the action reverts with `contract`'s custom error `name` (and `args`, when given). ethers decodes
 * errors of calls but not of a transaction's gas estimate: the raw revert data is decoded here.
 */
export async function expectRevert(
  contract: Contract,
  action: Promise<unknown>,
  name: string,
  args?: unknown[],
): Promise<void> {
  const error = await action.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (error === undefined) expect.fail(`expected a revert with ${name}, but it succeeded`);
  if (!isCallException(error)) throw error;
  const revert = error.revert ?? (error.data ? contract.interface.parseError(error.data) : null);
  expect(revert?.name, error.message).toBe(name);
  if (args) {
    const actual: unknown[] = revert ? Array.from(revert.args as Iterable<unknown>) : [];
    expect(actual).toEqual(args);
  }
}

/** The decoded logs of one event of `contract` in a receipt. */
export function eventsOf(
  receipt: ContractTransactionReceipt,
  contract: Contract,
  name: string,
): LogDescription[] {
  const address = receipt.to?.toLowerCase();
  return receipt.logs
    .filter((log) => log.address.toLowerCase() === address)
    .map((log) => contract.interface.parseLog(log))
    .filter((event): event is LogDescription => event?.name === name);
}

/** Moves the chain's clock and mines a block, so `block.timestamp` of the next calls is later. */
export async function increaseTime(chain: Chain, seconds: number): Promise<void> {
  await chain.provider.send('evm_increaseTime', [seconds]);
  await chain.provider.send('evm_mine', []);
}

export async function latestTimestamp(chain: Chain): Promise<number> {
  const block = await chain.provider.getBlock('latest');
  return block!.timestamp;
}

/** The ERC-165 id of an interface: the XOR of its functions' selectors. */
export function interfaceId(signatures: string[]): string {
  const xor = signatures
    .map((signature) => parseInt(id(signature).slice(2, 10), 16))
    .reduce((a, b) => a ^ b, 0);
  return `0x${(xor >>> 0).toString(16).padStart(8, '0')}`;
}
