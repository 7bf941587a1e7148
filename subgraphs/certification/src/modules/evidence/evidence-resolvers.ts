import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { RequestRow } from '../requests/requests-storage.js';
import type { EvidenceRow } from './evidence-storage.js';

type Context = CertificationContext;

export const evidenceResolvers: GraphQLResolverMap<Context> = {
  Mutation: {
    createEvidenceUpload: (
      _: unknown,
      args: {
        requestId: string;
        evidenceKey?: string | null;
        fileName: string;
        mediaType: string;
        size: number;
      },
      context: Context,
    ) => asResult(async () => ({ upload: await context.evidence.createUpload(context.principal, args) })),
  },
  // Who may read a request's evidence is the request's own shield rule (permissions.ts).
  CertificationRequest: {
    evidence: (request: RequestRow, _: unknown, context: Context) =>
      context.loaders.evidenceByRequest.load(request.id),
  },
  EvidenceUploadPayload: {
    uploadUrl: (payload: { upload?: { url: string } | null }) => payload.upload?.url ?? null,
  },
  Evidence: {
    key: (row: EvidenceRow) => row.evidenceKey,
    url: (row: EvidenceRow, _: unknown, context: Context) => context.evidence.contentUrl(row.cid),
  },
};
