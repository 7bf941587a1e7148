import type { Logger, Principal } from '@symbeon/kernel';
import { createCertificateLoaders, type IssuanceStorage } from './modules/issuance/issuance-storage.js';
import type { ProgrammesManager } from './modules/programmes/programmes-manager.js';
import { createProgrammeLoaders, type ProgrammesStorage } from './modules/programmes/programmes-storage.js';
import type { RequestsManager } from './modules/requests/requests-manager.js';
import { createRequestLoaders, type RequestsStorage } from './modules/requests/requests-storage.js';
import type { VerificationManager } from './modules/verification/verification-manager.js';

export interface CertificationModules {
  logger: Logger;
  storage: { programmes: ProgrammesStorage; requests: RequestsStorage; certificates: IssuanceStorage };
  programmes: ProgrammesManager;
  requests: RequestsManager;
  verification: VerificationManager;
}

function createLoaders(storage: CertificationModules['storage']) {
  return {
    ...createProgrammeLoaders(storage.programmes),
    ...createRequestLoaders(storage.requests),
    ...createCertificateLoaders(storage.certificates),
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
