import { codedError, ErrorCode, type GraphQLResolverMap } from '@symbeon/kernel';
import type { ChainContext } from '../../context.js';
import { hasScope } from '../../permissions.js';
import type { CertificateEventFilter, CertificateEventView } from './certificates-manager.js';

export const certificatesResolvers: GraphQLResolverMap<ChainContext> = {
  Query: {
    chainStatus: (_: unknown, __: unknown, context: ChainContext) => context.certificates.chainStatus(),
    onChainCertificate: async (_: unknown, args: { tokenId: string }, context: ChainContext) => {
      const tokenId = context.certificates.normaliseTokenId(args.tokenId);
      if (!tokenId) {
        throw codedError(ErrorCode.BAD_USER_INPUT, 'tokenId is not a decimal token id', { field: 'tokenId' });
      }
      const row = await context.loaders.certificateByTokenId.load(tokenId);
      return row ? context.certificates.present(row) : null;
    },
  },
  Subscription: {
    certificateEvents: {
      subscribe: (
        _: unknown,
        args: { filter?: CertificateEventFilter | null; after?: string | null },
        context: ChainContext,
      ) => {
        if (!hasScope(context.principal, 'certificates:read')) {
          throw codedError(ErrorCode.FORBIDDEN, 'certificateEvents needs the certificates:read scope');
        }
        return context.certificates.subscribe(args);
      },
      resolve: (payload: { certificateEvents: CertificateEventView }) => payload.certificateEvents,
    },
  },
};
