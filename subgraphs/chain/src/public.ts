// What the stack (the only code that starts several services) may use of this subgraph.
import type { ChainDeps, ChainService } from './service.js';

export { chainEnvShape, parseChainEnv, type ChainEnv } from './env.js';
export type { ChainDeps, ChainService };

/** Starts the chain subgraph; ethers and the contracts load only now, not when the stack imports this. */
export async function startChain(deps: ChainDeps): Promise<ChainService> {
  const { startChainService } = await import('./service.js');
  return startChainService(deps);
}
