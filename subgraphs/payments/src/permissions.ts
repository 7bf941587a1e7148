import { rule } from '@symbeon/kernel';
import type { PaymentsContext } from './context.js';
import { canSeeBuyersData, hasRole } from './modules/shared/access.js';
import { isUuid } from './modules/shared/validation.js';

type Context = PaymentsContext;

const isAdministrator = rule('role-ADMIN', { cache: 'contextual' })(
  (_: unknown, __: unknown, context: Context) => hasRole(context.principal, 'ADMIN'),
);

/**
 * Orders, payments and invoices (however reached: a query, a mutation payload, a connection) are for their
 * buyer and administrators only. 'strict' caches per parent: the answer depends on whose record it is.
 */
const isBuyersRecord = (name: string) =>
  rule(name, { cache: 'strict' })((record: { buyerId: string }, _: unknown, context: Context) =>
    canSeeBuyersData(context.principal, record.buyerId),
  );

/** One clean FORBIDDEN for an order by id that is not the caller's; an unknown id is just null. */
const canSeeOrderById = rule('can-see-order-by-id', { cache: 'strict' })(async (
  _: unknown,
  args: { id: string },
  context: Context,
) => {
  const order = isUuid(args.id) ? await context.loaders.orderById.load(args.id) : null;
  return !order || canSeeBuyersData(context.principal, order.buyerId);
});

/**
 * graphql-shield over the subgraph (see the kernel's applyOwnershipRules). The gateway enforces
 * @authenticated and @policy(admin); the rules repeat the role check so that a request reaching the subgraph
 * some other way with a valid internal token still cannot read the books.
 */
export const paymentsPermissions = {
  Query: {
    order: canSeeOrderById,
    ledgerBalances: isAdministrator,
    paymentsForReview: isAdministrator,
  },
  Order: isBuyersRecord('can-see-order'),
  Payment: isBuyersRecord('can-see-payment'),
  Invoice: isBuyersRecord('can-see-invoice'),
};
