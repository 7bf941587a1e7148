import type { Logger, Principal } from '@symbeon/kernel';
import type { AuditManager } from './modules/audit/audit-manager.js';
import type { BatchesManager } from './modules/batches/batches-manager.js';
import { createBatchLoaders, type BatchesStorage } from './modules/batches/batches-storage.js';
import { createAuditLoaders, type AuditStorage } from './modules/audit/audit-storage.js';
import type { EvidenceManager } from './modules/evidence/evidence-manager.js';
import { createEvidenceLoaders, type EvidenceStorage } from './modules/evidence/evidence-storage.js';
import { createCertificateLoaders, type IssuanceStorage } from './modules/issuance/issuance-storage.js';
import type { LifecycleManager } from './modules/lifecycle/lifecycle-manager.js';
import type { ProgrammesManager } from './modules/programmes/programmes-manager.js';
import { createProgrammeLoaders, type ProgrammesStorage } from './modules/programmes/programmes-storage.js';
import type { RequestsManager } from './modules/requests/requests-manager.js';
import { createRequestLoaders, type RequestsStorage } from './modules/requests/requests-storage.js';
import type { VerificationManager } from './modules/verification/verification-manager.js';

export interface CertificationModules {
  logger: Logger;
  storage: {
    programmes: ProgrammesStorage;
    requests: RequestsStorage;
    certificates: IssuanceStorage;
    evidence: EvidenceStorage;
    audits: AuditStorage;
    batches: BatchesStorage;
  };
  programmes: ProgrammesManager;
  requests: RequestsManager;
  evidence: EvidenceManager;
  audits: AuditManager;
  verification: VerificationManager;
  /** Revocation, renewal, the expiry sweep, the verification link. */
  lifecycle: LifecycleManager;
  /** Merkle batches (MERKLE_BATCH programmes): joining, closing, anchoring. */
  batches: BatchesManager;
}

function createLoaders(storage: CertificationModules['storage']) {
  return {
    ...createProgrammeLoaders(storage.programmes),
    ...createRequestLoaders(storage.requests),
    ...createEvidenceLoaders(storage.evidence),
    ...createAuditLoaders(storage.audits),
    ...createCertificateLoaders(storage.certificates),
    ...createBatchLoaders(storage.batches),
  };
}

/** What every resolver of one request sees. Loaders are per request so their caches never leak. */
export interface CertificationContext extends Omit<CertificationModules, 'storage'> {
  requestId: string;
  /** The caller, as the gateway vouched for it (internal token). */
  principal: Principal;
  loaders: ReturnType<typeof createLoaders>;
}

export function createContext(
  modules: CertificationModules,
  requestId: string,
  principal: Principal,
): CertificationContext {
  const { storage, ...rest } = modules;
  return {
    ...rest,
    logger: modules.logger.child({ requestId }),
    requestId,
    principal,
    loaders: createLoaders(storage),
  };
}
