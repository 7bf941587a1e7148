import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { RequestRow } from '../requests/requests-storage.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import type { AuditRow, RenewalAuditRow } from './audit-storage.js';

type Context = CertificationContext;

// Who may read the audit is the request's own shield rule (permissions.ts): requester, assigned auditors,
// administrators.
export const auditResolvers: GraphQLResolverMap<Context> = {
  Mutation: {
    retryCertificationAudit: (_: unknown, args: { id: string }, context: Context) =>
      asResult(async () => ({ request: await context.audits.retry(context.principal, args.id) })),
  },
  CertificationRequest: {
    audit: (request: RequestRow, _: unknown, context: Context) =>
      context.loaders.auditByRequest.load(request.id),
    // The name the public API uses for the same thing.
    auditReport: (request: RequestRow, _: unknown, context: Context) =>
      context.loaders.auditByRequest.load(request.id),
  },
  AuditCheck: {
    name: (check: { key: string }) => check.key,
  },
  Certificate: {
    renewalAudit: (certificate: CertificateRow, _: unknown, context: Context) =>
      certificate.expiresAt
        ? context.loaders.renewalAuditByTerm.load({
            certificateId: certificate.id,
            expiresAt: certificate.expiresAt,
          })
        : null,
  },
  RenewalAudit: {
    passed: (row: RenewalAuditRow) =>
      row.status === 'PASSED' ? true : row.status === 'FAILED' ? false : null,
    reportUrl: (row: RenewalAuditRow, _: unknown, context: Context) =>
      row.reportCid ? context.evidence.contentUrl(row.reportCid) : null,
  },
  RequestAudit: {
    passed: (row: AuditRow) => (row.status === 'PASSED' ? true : row.status === 'FAILED' ? false : null),
    reportUrl: (row: AuditRow, _: unknown, context: Context) =>
      row.reportCid ? context.evidence.contentUrl(row.reportCid) : null,
  },
};
