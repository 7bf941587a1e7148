import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { ChainContext } from '../../context.js';
import type { IssueCommand, RenewCommand, RevokeCommand } from './transactions-manager.js';
import type { TransactionRow, TransactionStatus } from './transactions-storage.js';

export const transactionsResolvers: GraphQLResolverMap<ChainContext> = {
  Query: {
    transactions: (
      _: unknown,
      args: { first?: number | null; after?: string | null; status?: TransactionStatus | null },
      context: ChainContext,
    ) => context.transactions.list(args),
  },
  Mutation: {
    issueOnChainCertificate: (_: unknown, args: { input: IssueCommand }, context: ChainContext) =>
      asResult(async () => ({ transaction: await context.transactions.issue(args.input) })),
    revokeOnChainCertificate: (_: unknown, args: { input: RevokeCommand }, context: ChainContext) =>
      asResult(async () => ({ transaction: await context.transactions.revoke(args.input) })),
    renewOnChainCertificate: (_: unknown, args: { input: RenewCommand }, context: ChainContext) =>
      asResult(async () => ({ transaction: await context.transactions.renew(args.input) })),
  },
  ChainTransaction: {
    hash: (row: TransactionRow) => row.minedHash ?? row.hash,
  },
};
