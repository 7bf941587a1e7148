import { readDeployment, symbeonCertificateAbi, type Deployment } from '@symbeon/contracts';
import { Contract, JsonRpcProvider, Network } from 'ethers';

/**
 * Read-only access to the chain the chain subgraph writes to: the same deployment record and node. Opened
 * on first use, so certification starts (and serves everything else) while the node or the record is not
 * there yet. Never signs: there is no key here.
 */
export interface ChainReader {
  deployment(): Deployment;
  provider(): JsonRpcProvider;
  /** SymbeonCertificate at the recorded address. */
  certificate(): Contract;
  close(): void;
}

export function createChainReader(options: { rpcUrl: string; deploymentPath: string }): ChainReader {
  let opened: { deployment: Deployment; provider: JsonRpcProvider; certificate: Contract } | undefined;
  function open() {
    if (opened) return opened;
    const deployment = readDeployment(options.deploymentPath);
    // staticNetwork: the chain id comes from the record (no eth_chainId polling, no "failed to detect").
    const provider = new JsonRpcProvider(options.rpcUrl, Network.from(deployment.chainId), {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    const certificate = new Contract(
      deployment.contracts.SymbeonCertificate.address,
      symbeonCertificateAbi,
      provider,
    );
    opened = { deployment, provider, certificate };
    return opened;
  }
  return {
    deployment: () => open().deployment,
    provider: () => open().provider,
    certificate: () => open().certificate,
    close() {
      opened?.provider.destroy();
      opened = undefined;
    },
  };
}
