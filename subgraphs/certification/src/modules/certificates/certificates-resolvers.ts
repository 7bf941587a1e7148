import type { GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import type { RequestRow } from '../requests/requests-storage.js';
import { isUuid } from '../shared/validation.js';

type Context = CertificationContext;

/** EXPIRED is computed when read: no sweep has to run for a certificate to stop being VALID. */
export function certificateStatus(row: CertificateRow, now = new Date()): 'VALID' | 'REVOKED' | 'EXPIRED' {
  if (row.status === 'REVOKED') return 'REVOKED';
  if (row.status === 'EXPIRED' || (row.expiresAt && row.expiresAt <= now)) return 'EXPIRED';
  return 'VALID';
}

// Certificates are public (their facts are on chain); the request behind one keeps its own shield rule.
export const certificatesResolvers: GraphQLResolverMap<Context> = {
  Query: {
    certificate: (_: unknown, args: { id: string }, context: Context) =>
      isUuid(args.id) ? context.loaders.certificateById.load(args.id) : null,
  },
  Certificate: {
    __resolveReference: (reference: { id: string }, context: Context) =>
      isUuid(reference.id) ? context.loaders.certificateById.load(reference.id) : null,
    holder: (row: CertificateRow) => ({ __typename: 'Wallet', address: row.holderAddress }),
    programme: (row: CertificateRow, _: unknown, context: Context) =>
      context.loaders.programmeById.load(row.programmeId),
    status: (row: CertificateRow) => certificateStatus(row),
    metadataUri: (row: CertificateRow) => `ipfs://${row.metadataCid}`,
    request: (row: CertificateRow, _: unknown, context: Context) =>
      context.loaders.requestById.load(row.requestId),
  },
  CertificationRequest: {
    certificate: (request: RequestRow, _: unknown, context: Context) =>
      context.loaders.certificateByRequest.load(request.id),
  },
};
