import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import { requirePrincipal, type IdentityContext } from '../../context.js';
import { payload } from '../sessions/sessions-resolvers.js';
import { secondFactorRequired } from '../totp/totp-manager.js';
import type { WalletRow } from './wallets-storage.js';

export const walletsResolvers: GraphQLResolverMap<IdentityContext> = {
  Mutation: {
    createSiweNonce: (_: unknown, __: unknown, context: IdentityContext) => context.wallets.createNonce(),
    signInWithEthereum: (
      _: unknown,
      args: { message: string; signature: string },
      context: IdentityContext,
    ) =>
      asResult(async () => {
        const { user } = await context.wallets.signIn(args.message, args.signature);
        // With TOTP enabled the wallet is only the first factor: no tokens until completeSignIn.
        const challenge = await context.totp.challengeFor(user.id, 'SIWE');
        if (challenge) return { challenge };
        return payload(
          await context.sessions.startSession(user.id, { method: 'SIWE', userAgent: context.userAgent }),
        );
      }).then((result) =>
        'challenge' in result && result.challenge ? secondFactorRequired(result.challenge) : result,
      ),
    linkWallet: (_: unknown, args: { message: string; signature: string }, context: IdentityContext) =>
      asResult(async () => ({
        wallet: await context.wallets.link(requirePrincipal(context).userId, args.message, args.signature),
      })),
  },
  Wallet: {
    // Any address may be referenced by other subgraphs (a certificate's holder); unknown ones have no user.
    __resolveReference: async (reference: { address: string }, context: IdentityContext) =>
      (await context.loaders.walletByAddress.load(reference.address)) ?? {
        address: reference.address,
        unlinked: true,
      },
    address: async (wallet: WalletRow) => (await import('ethers')).getAddress(wallet.address),
    chainId: (wallet: WalletRow & { unlinked?: boolean }) => (wallet.unlinked ? null : wallet.chainId),
    linkedAt: (wallet: WalletRow & { unlinked?: boolean }) => (wallet.unlinked ? null : wallet.linkedAt),
    user: (wallet: WalletRow & { unlinked?: boolean }, _: unknown, context: IdentityContext) =>
      wallet.unlinked ? null : context.users.findUser(context.loaders, { id: wallet.userId }),
  },
  User: {
    wallets: (user: { id: string }, _: unknown, context: IdentityContext) =>
      context.loaders.walletsByUser.load(user.id),
  },
};
