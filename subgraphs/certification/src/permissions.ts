import { or, rule } from '@symbeon/kernel';
import type { CertificationContext } from './context.js';
import { canSeeRequest } from './modules/requests/requests-manager.js';
import type { RequestRow } from './modules/requests/requests-storage.js';
import { hasRole } from './modules/shared/access.js';
import { isUuid } from './modules/shared/validation.js';

type Context = CertificationContext;

const role = (name: string) =>
  rule(`role-${name}`, { cache: 'contextual' })((_: unknown, __: unknown, context: Context) =>
    hasRole(context.principal, name),
  );
// One instance per rule name: graphql-shield refuses two rules with the same name.
const isAdministrator = role('ADMIN');
const isAuditor = role('AUDITOR');
const isIssuer = role('ISSUER');

async function visible(request: RequestRow, context: Context): Promise<boolean> {
  const auditorIds = await context.loaders.auditorIdsByProgramme.load(request.programmeId);
  return canSeeRequest(context.principal, request, auditorIds);
}

/**
 * Every field of a request, however it was reached (a query, a mutation payload, an entity reference from
 * another subgraph): only for those who may see it. 'strict' caches per parent: the answer depends on which
 * request it is.
 */
const canSeeThisRequest = rule('can-see-request', { cache: 'strict' })(
  (request: RequestRow, _: unknown, context: Context) => visible(request, context),
);

/** One clean FORBIDDEN for a request by id that is not the caller's to see; an unknown id is just null. */
const canSeeRequestById = rule('can-see-request-by-id', { cache: 'strict' })(async (
  _: unknown,
  args: { id: string },
  context: Context,
) => {
  const request = isUuid(args.id) ? await context.loaders.requestById.load(args.id) : null;
  return !request || visible(request, context);
});

/** A certificate's private parts (its renewal audit) go to those who may see its request. */
const canSeeCertificateRequest = rule('can-see-certificate-request', { cache: 'strict' })(async (
  certificate: { requestId: string },
  _: unknown,
  context: Context,
) => {
  const request = await context.loaders.requestById.load(certificate.requestId);
  return request ? visible(request, context) : false;
});

/**
 * graphql-shield over the subgraph (see the kernel's applyOwnershipRules). The gateway enforces
 * @authenticated and @policy; the role rules repeat them here so that a request reaching the subgraph some
 * other way with a valid internal token still cannot edit the catalogue or review.
 */
export const certificationPermissions = {
  Query: {
    certificationRequest: canSeeRequestById,
    reviewQueue: isAuditor,
  },
  Mutation: {
    createProgramme: isAdministrator,
    updateProgramme: isAdministrator,
    publishProgramme: isAdministrator,
    archiveProgramme: isAdministrator,
    reviewCertificationRequest: isAuditor,
    revokeCertificate: or(isIssuer, isAdministrator),
    retryCertificateIssuance: or(isIssuer, isAdministrator),
    closeCertificateBatch: isAdministrator,
  },
  CertificationRequest: canSeeThisRequest,
  Certificate: { renewalAudit: canSeeCertificateRequest },
};
