import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import { rootToBatchId } from './batch-tree.js';
import type { BatchRow } from './batches-storage.js';

type Context = CertificationContext;

export const batchesResolvers: GraphQLResolverMap<Context> = {
  Query: {
    verifyBatchProof: (
      _: unknown,
      args: { root: string; metadataCid: string; proof: string[] },
      context: Context,
    ) => context.verification.verifyBatchProof(args),
  },
  Mutation: {
    closeCertificateBatch: (_: unknown, args: { programmeId: string }, context: Context) =>
      asResult(async () => ({ batch: await context.batches.closeNow(context.principal, args.programmeId) })),
  },
  CertificateBatch: {
    programme: (row: BatchRow, _: unknown, context: Context) =>
      context.loaders.programmeById.load(row.programmeId),
    root: (row: BatchRow) => row.merkleRoot,
    onChainId: (row: BatchRow) => (row.merkleRoot ? rootToBatchId(row.merkleRoot) : null),
  },
  Certificate: {
    issuanceMode: (row: CertificateRow) => (row.batchId ? 'MERKLE_BATCH' : 'SINGLE'),
    batch: (row: CertificateRow, _: unknown, context: Context) =>
      row.batchId ? context.loaders.batchById.load(row.batchId) : null,
  },
};
