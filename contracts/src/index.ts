/**
 * @symbeon/contracts: the ABIs and bytecode of the Symbeon contracts (generated from contracts/solidity by
 * `npm run build -w contracts`), CID <-> on-chain digest conversions, and deployment.
 */
export * from './generated/index.js';
export {
  cidToDigest,
  digestToCid,
  digestToTokenId,
  sha256Digest,
  tokenIdToDigest,
  type Bytes32Hex,
} from './cid.js';
export {
  checkDeployment,
  DEFAULT_ADMIN_ROLE,
  deployContracts,
  deploymentSchema,
  ISSUER_ROLE,
  readDeployment,
  writeDeployment,
  type ContractName,
  type DeployedContract,
  type Deployment,
  type DeployOptions,
} from './deployment.js';
