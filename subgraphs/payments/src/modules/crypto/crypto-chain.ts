import { paymentReceiverAbi, readDeployment } from '@symbeon/contracts';
import { Contract, getAddress, isAddress, JsonRpcProvider, Network, ZeroAddress } from 'ethers';

/** A currency PaymentReceiver accepts: the native coin (address zero) or an allowed ERC-20. */
export interface CryptoToken {
  /** EIP-55; the zero address for the chain's native coin. */
  address: string;
  symbol: string;
  decimals: number;
}

/** What the crypto module reads from the chain. It never signs: only the chain subgraph does. */
export interface CryptoChain {
  chainId: number;
  /** PaymentReceiver's address. */
  receiver: string;
  /** The token a quote is in: the native coin for undefined / the zero address; an allowed ERC-20 otherwise. */
  token(address: string | undefined): Promise<CryptoToken | undefined>;
  close(): void;
}

/** The native coin's symbol per chain id (rates are keyed by symbol). */
const nativeSymbols: Record<number, string> = { 137: 'POL', 80002: 'POL', 56: 'BNB', 100: 'XDAI' };

const erc20 = ['function symbol() view returns (string)', 'function decimals() view returns (uint8)'];

/**
 * Reads the deployment record (the chain subgraph's CHAIN_DEPLOYMENT_PATH) for PaymentReceiver and asks the
 * node, read-only, which tokens it allows (isTokenAllowed) and their symbol and decimals. Undefined when the
 * record has no PaymentReceiver: crypto payments are then unavailable.
 */
export function openCryptoChain(options: {
  rpcUrl: string;
  deploymentPath: string;
}): CryptoChain | undefined {
  let deployment;
  try {
    deployment = readDeployment(options.deploymentPath);
  } catch {
    return undefined;
  }
  const receiver = deployment.contracts.PaymentReceiver?.address;
  if (!receiver) return undefined;
  const provider = new JsonRpcProvider(options.rpcUrl, Network.from(deployment.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
  });
  const contract = new Contract(receiver, paymentReceiverAbi, provider);
  const native: CryptoToken = {
    address: ZeroAddress,
    symbol: nativeSymbols[deployment.chainId] ?? 'ETH',
    decimals: 18,
  };
  const known = new Map<string, Promise<CryptoToken | undefined>>();
  return {
    chainId: deployment.chainId,
    receiver,
    token(address) {
      if (address === undefined || address === '' || address === ZeroAddress) return Promise.resolve(native);
      if (!isAddress(address)) return Promise.resolve(undefined);
      const key = getAddress(address);
      let found = known.get(key);
      if (!found) {
        found = (async () => {
          const allowed = (await contract.getFunction('isTokenAllowed')(key)) as boolean;
          if (!allowed) return undefined;
          const token = new Contract(key, erc20, provider);
          const [symbol, decimals] = await Promise.all([
            token.getFunction('symbol')() as Promise<string>,
            token.getFunction('decimals')() as Promise<bigint>,
          ]);
          return { address: key, symbol, decimals: Number(decimals) };
        })();
        // Only a positive answer is kept: an admin may allow the token later, and a failed read is retried.
        found.then(
          (token) => {
            if (!token) known.delete(key);
          },
          () => known.delete(key),
        );
        known.set(key, found);
      }
      return found;
    },
    close: () => provider.destroy(),
  };
}
