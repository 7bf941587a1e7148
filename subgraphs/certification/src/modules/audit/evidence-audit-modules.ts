import { ContentNotFoundError, type ContentStore, type Logger, type Principal } from '@symbeon/kernel';
import { createEvidenceManager, type EvidenceManager } from '../evidence/evidence-manager.js';
import { createEvidenceStorage, type EvidenceStorage } from '../evidence/evidence-storage.js';
import type { CertificationDb, ProgrammesStorage } from '../programmes/programmes-storage.js';
import type { RequestsManager } from '../requests/requests-manager.js';
import type { RequestsStorage } from '../requests/requests-storage.js';
import { createAuditManager, type AuditManager } from './audit-manager.js';
import { createAuditStorage, type AuditStorage } from './audit-storage.js';

export interface EvidenceAuditOptions {
  /** Where documents and audit reports go. Without one, uploads and audits fail (modules built for other tests). */
  contents?: ContentStore | undefined;
  /** The gateway's public origin, for upload and download URLs. */
  publicUrl?: string | undefined;
}

interface BaseModules {
  logger: Logger;
  storage: { programmes: ProgrammesStorage; requests: RequestsStorage };
  requests: RequestsManager;
}

export type WithEvidenceAndAudit<T extends BaseModules> = Omit<T, 'storage'> & {
  storage: T['storage'] & { evidence: EvidenceStorage; audits: AuditStorage };
  evidence: EvidenceManager;
  audits: AuditManager;
};

const DEFAULT_PUBLIC_URL = 'http://localhost:8000';

function missingContentStore(): ContentStore {
  const refuse = () => Promise.reject(new Error('certification was built without a content store'));
  return {
    add: refuse,
    get: refuse,
    stat: refuse,
    has: refuse,
    pin: (cid: string) => Promise.reject(new ContentNotFoundError(cid)),
    close: async () => undefined,
  };
}

/**
 * Adds evidence upload and the automated audit to the certification modules, and the submission guard: a
 * requester's DRAFT goes to SUBMITTED only with every mandatory evidence type attached (checked before the
 * transition; a document cannot disappear from a DRAFT, and uploads stop once it left DRAFT).
 */
export function withEvidenceAndAudit<T extends BaseModules>(
  db: CertificationDb,
  modules: T,
  options: EvidenceAuditOptions = {},
): WithEvidenceAndAudit<T> {
  const contents = options.contents ?? missingContentStore();
  const storage = { ...modules.storage, evidence: createEvidenceStorage(db), audits: createAuditStorage(db) };
  const evidence = createEvidenceManager({
    evidence: storage.evidence,
    requests: storage.requests,
    programmes: storage.programmes,
    content: contents,
    publicUrl: options.publicUrl ?? DEFAULT_PUBLIC_URL,
  });
  const requests: RequestsManager = {
    ...modules.requests,
    async submit(principal: Principal, id: string) {
      await evidence.requireCompleteEvidence(principal, id);
      return modules.requests.submit(principal, id);
    },
  };
  const audits = createAuditManager({
    audits: storage.audits,
    evidence: storage.evidence,
    requests: storage.requests,
    programmes: storage.programmes,
    transitions: requests,
    content: contents,
    logger: modules.logger.child({ module: 'audit' }),
    contentUrl: evidence.contentUrl,
  });
  return { ...modules, storage, requests, evidence, audits };
}
