import { asResult, type Principal } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { RequestRow } from '../requests/requests-storage.js';
import type { CertificateRow } from './issuance-storage.js';

/** The service adds the issuance retry to every context (it needs the service's database; see service.ts). */
export interface IssuanceRetry {
  retry(principal: Principal, requestId: string): Promise<CertificateRow>;
}
type IssuanceContext = CertificationContext & { issuance?: IssuanceRetry };

function retryOf(context: IssuanceContext): IssuanceRetry {
  if (!context.issuance) throw new Error('the issuance retry is not wired into this context');
  return context.issuance;
}

// The request's own shield rule decides who reads `issuance` (requester, assigned auditors, administrators).
export const issuanceResolvers = {
  Mutation: {
    retryCertificateIssuance: (_: unknown, args: { requestId: string }, context: IssuanceContext) =>
      asResult(async () => {
        await retryOf(context).retry(context.principal, args.requestId);
        return { request: await context.loaders.requestById.load(args.requestId) };
      }),
  },
  CertificationRequest: {
    issuance: async (request: RequestRow, _: unknown, context: IssuanceContext) => {
      const row = await context.loaders.certificateRowByRequest.load(request.id);
      if (!row) return null;
      return {
        attempt: row.attempt,
        commandId: row.commandId,
        awaitingWallet: row.status === 'ISSUING' && !row.holderAddress,
        chainError: row.chainError,
        chainErrorAt: row.chainErrorAt,
        retryable: row.chainError ? row.chainErrorRetryable : null,
      };
    },
  },
};
