import type { GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import type { Verification } from './verification-manager.js';

type Context = CertificationContext;

// No sign-in: verification is public. Bad input (neither id nor tokenId) is a DomainError, which the
// kernel's subgraph server turns into a coded GraphQL error.
export const verificationResolvers: GraphQLResolverMap<Context> = {
  Query: {
    verifyCertificate: (
      _: unknown,
      args: { id?: string | null; tokenId?: string | null },
      context: Context,
    ) => context.verification.verify(args),
  },
  Verification: {
    valid: (verification: Verification) => verification.verdict === 'VALID',
  },
  VerificationStep: {
    name: (step: { key: string }) => step.key,
  },
};
