import {
  certificateAnchorAbi,
  readDeployment,
  symbeonCertificateAbi,
  type Deployment,
} from '@symbeon/contracts';
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
  /** CertificateAnchor at the recorded address (Merkle batches). */
  anchor(): Contract;
  close(): void;
}

export function createChainReader(options: { rpcUrl: string; deploymentPath: string }): ChainReader {
  let opened:
    | { deployment: Deployment; provider: JsonRpcProvider; certificate: Contract; anchor: Contract }
    | undefined;
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
    const anchor = new Contract(
      deployment.contracts.CertificateAnchor.address,
      certificateAnchorAbi,
      provider,
    );
    opened = { deployment, provider, certificate, anchor };
    return opened;
  }
  return {
    deployment: () => open().deployment,
    provider: () => open().provider,
    certificate: () => open().certificate,
    anchor: () => open().anchor,
    close() {
      opened?.provider.destroy();
      opened = undefined;
    },
  };
}
