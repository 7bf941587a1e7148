import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  Contract,
  ContractFactory,
  getAddress,
  id,
  JsonRpcProvider,
  Wallet,
  ZeroHash,
  type InterfaceAbi,
} from 'ethers';
import { z } from 'zod';
import {
  certificateAnchorAbi,
  certificateAnchorBytecode,
  certificateAnchorDeployedBytecode,
  paymentReceiverAbi,
  paymentReceiverBytecode,
  paymentReceiverDeployedBytecode,
  symbeonCertificateAbi,
  symbeonCertificateBytecode,
  symbeonCertificateDeployedBytecode,
  testUsdcAbi,
  testUsdcBytecode,
  testUsdcDeployedBytecode,
} from './generated/index.js';

/** keccak256("ISSUER_ROLE"): issues, revokes and renews certificates, anchors batches. */
export const ISSUER_ROLE = id('ISSUER_ROLE');
/** OpenZeppelin AccessControl's admin role: grants and revokes the others. */
export const DEFAULT_ADMIN_ROLE = ZeroHash;

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address')
  .transform((value) => getAddress(value));

const deployedContract = z.object({
  address,
  blockNumber: z.number().int().nonnegative(),
  txHash: z.string().regex(/^0x[0-9a-f]{64}$/, 'must be a 0x-prefixed 32-byte transaction hash'),
});

export const deploymentSchema = z.object({
  chainId: z.number().int().positive(),
  deployer: address,
  /** Holds DEFAULT_ADMIN_ROLE on every contract (and owns TestUSDC). */
  admin: address,
  /** Hold ISSUER_ROLE on SymbeonCertificate and CertificateAnchor. */
  issuers: z.array(address),
  contracts: z.object({
    SymbeonCertificate: deployedContract,
    CertificateAnchor: deployedContract,
    PaymentReceiver: deployedContract.optional(),
    /** Local chains only: a 6-decimal test stablecoin PaymentReceiver accepts. */
    TestUSDC: deployedContract.optional(),
  }),
  deployedAt: z.iso.datetime(),
});

export type Deployment = z.infer<typeof deploymentSchema>;
export type DeployedContract = z.infer<typeof deployedContract>;
export type ContractName = keyof Deployment['contracts'];

export interface DeployOptions {
  rpcUrl: string;
  /** Pays for and sends every transaction; never logged nor written. */
  deployerKey: string;
  /** Gets DEFAULT_ADMIN_ROLE (default: the deployer, who then keeps it). */
  admin?: string;
  /** Get ISSUER_ROLE on the certificate and the anchor. */
  issuers?: string[];
  /** Deploy PaymentReceiver (default true). */
  paymentReceiver?: boolean;
  /** Deploy TestUSDC and allow it in PaymentReceiver (default false; local chains only). */
  testToken?: boolean;
}

interface Step {
  contract: Contract;
  record: DeployedContract;
}

async function deploy(
  wallet: Wallet,
  abi: InterfaceAbi,
  bytecode: string,
  args: unknown[],
  name: string,
): Promise<Step> {
  const factory = new ContractFactory(abi, bytecode, wallet);
  const deployed = await factory.deploy(...args);
  const receipt = await deployed.deploymentTransaction()?.wait();
  if (!receipt || receipt.status !== 1) throw new Error(`deploying ${name} failed`);
  const contractAddress = await deployed.getAddress();
  return {
    contract: new Contract(contractAddress, abi, wallet),
    record: { address: contractAddress, blockNumber: receipt.blockNumber, txHash: receipt.hash },
  };
}

async function send(contract: Contract, method: string, args: unknown[]): Promise<void> {
  const response = await contract.getFunction(method).send(...args);
  const receipt = await response.wait();
  if (!receipt || receipt.status !== 1) throw new Error(`${method}(${args.join(', ')}) failed`);
}

/**
 * Deploys the certificate, the batch anchor and (by default) the payment receiver, grants ISSUER_ROLE to
 * `issuers`, and hands DEFAULT_ADMIN_ROLE to `admin`. The deployer is admin while it sets roles up and
 * renounces the role at the end when `admin` is someone else.
 */
export async function deployContracts(options: DeployOptions): Promise<Deployment> {
  // No response cache: ethers reuses identical answers for 250 ms, and a nonce read before the previous
  // transaction was mined would be stale.
  const provider = new JsonRpcProvider(options.rpcUrl, undefined, {
    staticNetwork: true,
    pollingInterval: 500,
    cacheTimeout: -1,
  });
  try {
    const wallet = new Wallet(options.deployerKey, provider);
    const deployer = wallet.address;
    const admin = getAddress(options.admin ?? deployer);
    const issuers = [...new Set((options.issuers ?? []).map((issuer) => getAddress(issuer)))];
    const { chainId } = await provider.getNetwork();

    const certificate = await deploy(
      wallet,
      symbeonCertificateAbi,
      symbeonCertificateBytecode,
      [deployer],
      'SymbeonCertificate',
    );
    const anchor = await deploy(
      wallet,
      certificateAnchorAbi,
      certificateAnchorBytecode,
      [deployer],
      'CertificateAnchor',
    );
    const payments =
      (options.paymentReceiver ?? true)
        ? await deploy(wallet, paymentReceiverAbi, paymentReceiverBytecode, [deployer], 'PaymentReceiver')
        : undefined;
    const token = options.testToken
      ? await deploy(wallet, testUsdcAbi, testUsdcBytecode, [admin], 'TestUSDC')
      : undefined;

    for (const issuer of issuers) {
      await send(certificate.contract, 'grantRole', [ISSUER_ROLE, issuer]);
      await send(anchor.contract, 'grantRole', [ISSUER_ROLE, issuer]);
    }
    if (payments && token) await send(payments.contract, 'setTokenAllowed', [token.record.address, true]);
    const administered = [certificate, anchor, ...(payments ? [payments] : [])];
    if (admin !== deployer) {
      for (const { contract } of administered) {
        await send(contract, 'grantRole', [DEFAULT_ADMIN_ROLE, admin]);
        await send(contract, 'renounceRole', [DEFAULT_ADMIN_ROLE, deployer]);
      }
    }

    return deploymentSchema.parse({
      chainId: Number(chainId),
      deployer,
      admin,
      issuers,
      contracts: {
        SymbeonCertificate: certificate.record,
        CertificateAnchor: anchor.record,
        ...(payments ? { PaymentReceiver: payments.record } : {}),
        ...(token ? { TestUSDC: token.record } : {}),
      },
      deployedAt: new Date().toISOString(),
    });
  } finally {
    provider.destroy();
  }
}

/** Writes the record as pretty JSON (atomically: a reader never sees half a file). */
export function writeDeployment(file: string, deployment: Deployment): void {
  const record = deploymentSchema.parse(deployment);
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temporary, file);
}

/** Reads and validates a record written by writeDeployment; every problem is named in the error. */
export function readDeployment(file: string): Deployment {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `Cannot read the deployment record ${file}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const result = deploymentSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new Error(`The deployment record ${file} is invalid:\n${issues.join('\n')}`);
  }
  return result.data;
}

/** The runtime bytecode each contract of a record must have on chain. */
const runtimeCode: Record<ContractName, string> = {
  SymbeonCertificate: symbeonCertificateDeployedBytecode,
  CertificateAnchor: certificateAnchorDeployedBytecode,
  PaymentReceiver: paymentReceiverDeployedBytecode,
  TestUSDC: testUsdcDeployedBytecode,
};

/**
 * Whether a record still describes the chain at `rpcUrl`: same chain id, and the code at every address is
 * the code the current sources compile to. A launcher redeploys when this lists problems (a chain reset
 * without its state file, or contracts changed since the record was written).
 */
export async function checkDeployment(rpcUrl: string, deployment: Deployment): Promise<string[]> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const problems: string[] = [];
    const { chainId } = await provider.getNetwork();
    if (Number(chainId) !== deployment.chainId) {
      return [`the node is chain ${chainId}, the record is for chain ${deployment.chainId}`];
    }
    for (const [name, contract] of Object.entries(deployment.contracts) as Array<
      [ContractName, DeployedContract | undefined]
    >) {
      if (!contract) continue;
      const code = await provider.getCode(contract.address);
      if (code === '0x') problems.push(`${name}: no code at ${contract.address}`);
      else if (code !== runtimeCode[name]) {
        problems.push(`${name}: the code at ${contract.address} is not what the current sources compile to`);
      }
    }
    return problems;
  } finally {
    provider.destroy();
  }
}
