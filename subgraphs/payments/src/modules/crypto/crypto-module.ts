import { chainDeploymentPath } from '../../env.js';
import type { PaymentsModule, PaymentsModuleFactory } from '../payments-module.js';
import { openCryptoChain } from './crypto-chain.js';
import { consumeChainPayments } from './crypto-consumer.js';
import { createCryptoManager, type CryptoManager } from './crypto-manager.js';
import { devRateSource, firstRateSource, parseDevRates, type RateSource } from './crypto-rates.js';
import { cryptoResolvers } from './crypto-resolvers.js';
import { createCryptoStorage, type CryptoStorage } from './crypto-storage.js';
import { parseRate } from './crypto-amounts.js';

/** Admin-set rates (crypto_rates, setCryptoRate): the production rate source. */
function adminRateSource(storage: CryptoStorage): RateSource {
  return {
    async rate(symbol, currency) {
      const upper = symbol.toUpperCase();
      const row =
        (await storage.adminRate(upper, currency)) ??
        (upper === 'TUSDC' ? await storage.adminRate('USDC', currency) : undefined);
      const rate = row ? parseRate(row.rate) : undefined;
      return row && rate ? { rate, source: `ADMIN_RATE set ${row.setAt.toISOString()}` } : undefined;
    },
  };
}

/** How often pending payments are looked at again when no event woke the module (crash recovery). */
const SWEEP_MS = 2_000;

export type CryptoModule = PaymentsModule & { manager: CryptoManager };

/**
 * Crypto payments on PaymentReceiver: createCryptoQuote, the chain's PaymentReceived / ChainReorganized
 * consumer, the review queue and the admin actions. Rates: admin-set first; the labelled fixed dev rates only
 * outside production (or when PAYMENTS_CRYPTO_DEV_RATES is set explicitly).
 */
export const cryptoModule: PaymentsModuleFactory = (deps): CryptoModule => {
  const { env } = deps;
  const logger = deps.logger.child({ module: 'crypto' });
  const storage = createCryptoStorage(deps.db);
  const chain = openCryptoChain({ rpcUrl: env.CHAIN_RPC_URL, deploymentPath: chainDeploymentPath(env) });
  if (!chain)
    logger.warn('no PaymentReceiver in the chain deployment record: crypto payments are unavailable');
  const useDevRates = env.NODE_ENV !== 'production' || env.PAYMENTS_CRYPTO_DEV_RATES !== undefined;
  const manager = createCryptoManager({
    storage,
    chain,
    rates: firstRateSource([
      adminRateSource(storage),
      ...(useDevRates ? [devRateSource(parseDevRates(env.PAYMENTS_CRYPTO_DEV_RATES))] : []),
    ]),
    orders: deps.orders,
    settlement: deps.settlement,
    logger,
    quoteMinutes: env.PAYMENTS_CRYPTO_QUOTE_MINUTES,
    topUpMinutes: env.PAYMENTS_CRYPTO_TOPUP_MINUTES,
  });
  let subscription: Awaited<ReturnType<typeof consumeChainPayments>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const wake = () => {
    if (stopped) return;
    manager.processPending().catch((error: unknown) => {
      logger.error({ err: error }, 'crypto payments pass failed; retrying');
    });
  };
  const sweep = () => {
    wake();
    if (!stopped) timer = setTimeout(sweep, SWEEP_MS);
  };
  return {
    name: 'crypto',
    manager,
    resolvers: cryptoResolvers(manager),
    async start() {
      subscription = await consumeChainPayments({
        db: deps.db,
        transport: deps.transport,
        manager,
        onStored: wake,
      });
      sweep();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await subscription?.close();
      await manager.processPending().catch(() => undefined);
      chain?.close();
    },
  };
};
