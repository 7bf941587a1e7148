import {
  certificateAnchorAbi,
  paymentReceiverAbi,
  readDeployment,
  symbeonCertificateAbi,
  type Deployment,
} from '@symbeon/contracts';
import { Contract, getAddress, Interface, JsonRpcProvider, Network } from 'ethers';

/** An ERC-20 PaymentReceiver accepts, as the token contract describes itself. */
export interface PaymentToken {
  symbol: string;
  address: string;
  decimals: number;
}

const erc20Metadata = ['function symbol() view returns (string)', 'function decimals() view returns (uint8)'];

/** The contracts the chain subgraph talks to, and how to reach the node. */
export interface ChainRegistry {
  chainId: number;
  deployment: Deployment;
  provider: JsonRpcProvider;
  certificate: { address: string; deployedAt: number; iface: Interface };
  anchor: { address: string; deployedAt: number; iface: Interface };
  /** PaymentReceiver, when the deployment has one (its events are indexed then). */
  payments?: { address: string; deployedAt: number; iface: Interface };
  /**
   * Symbol and decimals of a token contract, read once per address (they never change for a sane ERC-20).
   * Which tokens are allowed is chain state: the indexer folds PaymentReceiver's TokenAllowedSet events.
   */
  tokenMetadata(address: string): Promise<PaymentToken>;
  close(): void;
}

/**
 * Reads the deployment record and checks it against the node: same chain id, code at every address. Fails
 * with a message naming what is wrong (a node reset without its state file, a record for another chain...).
 */
export async function openChainRegistry(options: {
  rpcUrl: string;
  deploymentPath: string;
  pollingIntervalMs?: number;
}): Promise<ChainRegistry> {
  const deployment = readDeployment(options.deploymentPath);
  // staticNetwork: no eth_chainId polling (and no "failed to detect network" noise); we check it once below.
  // cacheTimeout -1: nonces and heads must never be served from ethers' 250 ms response cache.
  const provider = new JsonRpcProvider(options.rpcUrl, Network.from(deployment.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: options.pollingIntervalMs ?? 1000,
  });
  try {
    let answered: bigint;
    try {
      answered = BigInt(String(await provider.send('eth_chainId', [])));
    } catch (error) {
      throw new Error(
        `The chain node at ${options.rpcUrl} does not answer: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (Number(answered) !== deployment.chainId) {
      throw new Error(
        `The chain node at ${options.rpcUrl} is chain ${answered}, but ${options.deploymentPath} is a deployment on chain ${deployment.chainId}`,
      );
    }
    const { SymbeonCertificate, CertificateAnchor, PaymentReceiver } = deployment.contracts;
    const codes = await Promise.all([
      provider.getCode(SymbeonCertificate.address),
      provider.getCode(CertificateAnchor.address),
      PaymentReceiver ? provider.getCode(PaymentReceiver.address) : Promise.resolve(undefined),
    ]);
    const missing = [
      codes[0] === '0x' ? `SymbeonCertificate at ${SymbeonCertificate.address}` : undefined,
      codes[1] === '0x' ? `CertificateAnchor at ${CertificateAnchor.address}` : undefined,
      codes[2] === '0x' ? `PaymentReceiver at ${PaymentReceiver?.address}` : undefined,
    ].filter(Boolean);
    if (missing.length > 0) {
      throw new Error(
        `No contract code on chain ${deployment.chainId} (${options.rpcUrl}) for ${missing.join(', ')} named in ${options.deploymentPath}: redeploy, or point CHAIN_DEPLOYMENT_PATH at this chain's record`,
      );
    }
  } catch (error) {
    provider.destroy();
    throw error;
  }
  const receiver = deployment.contracts.PaymentReceiver;
  const metadata = new Map<string, Promise<PaymentToken>>();
  return {
    chainId: deployment.chainId,
    deployment,
    provider,
    certificate: {
      address: deployment.contracts.SymbeonCertificate.address,
      deployedAt: deployment.contracts.SymbeonCertificate.blockNumber,
      iface: new Interface(symbeonCertificateAbi),
    },
    anchor: {
      address: deployment.contracts.CertificateAnchor.address,
      deployedAt: deployment.contracts.CertificateAnchor.blockNumber,
      iface: new Interface(certificateAnchorAbi),
    },
    ...(receiver
      ? {
          payments: {
            address: receiver.address,
            deployedAt: receiver.blockNumber,
            iface: new Interface(paymentReceiverAbi),
          },
        }
      : {}),
    tokenMetadata(address: string) {
      const key = getAddress(address);
      let known = metadata.get(key);
      if (!known) {
        const token = new Contract(key, erc20Metadata, provider);
        known = Promise.all([token.getFunction('symbol')(), token.getFunction('decimals')()]).then(
          ([symbol, decimals]) => ({ symbol: String(symbol), address: key, decimals: Number(decimals) }),
        );
        // A failed read (node down) is not remembered.
        known.catch(() => metadata.delete(key));
        metadata.set(key, known);
      }
      return known;
    },
    close: () => provider.destroy(),
  };
}
