import path from 'node:path';
import { z } from 'zod';
import { commonEnvShape, contentStoreEnvShape, envField, parseEnv } from '@symbeon/kernel';

/**
 * Every variable the payments subgraph reads. The only reader of process.env for this service.
 * The provider variables (Stripe, PayPal, crypto) are declared here once for the provider modules
 * (modules/stripe, modules/paypal, modules/crypto): a provider whose keys are unset is reported unavailable.
 */
export const paymentsEnvShape = {
  ...commonEnvShape,
  PAYMENTS_PORT: envField.port(8006),
  PAYMENTS_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  PAYMENTS_DATABASE_URL: commonEnvShape.DATABASE_URL,
  /** HMAC key of the gateway's internal tokens, the gateway's value; required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
  /** Kubo's RPC API for the invoice PDFs; unset: the embedded store in DATA_DIR/ipfs. */
  IPFS_API_URL: contentStoreEnvShape.IPFS_API_URL,
  /** Public origin of the web app (the gateway): Stripe/PayPal return and cancel URLs, invoice download links. */
  PAYMENTS_PUBLIC_URL: z.url().default('http://localhost:8000'),

  // Invoices (see modules/invoices): the seller printed on every invoice and credit note.
  PAYMENTS_SELLER_NAME: z.string().trim().min(1).default('Symbeon'),
  /** Postal address, one line per `|`, e.g. "1 Example Street|75001 Paris|France". */
  PAYMENTS_SELLER_ADDRESS: z.string().default(''),
  /** The seller's VAT identification number, printed when set. */
  PAYMENTS_SELLER_VAT_ID: z.string().default(''),
  /** Invoice numbers are <prefix>-<year>-<6 digits>; credit notes <prefix>-CN-<year>-<6 digits>. */
  PAYMENTS_INVOICE_PREFIX: z
    .string()
    .regex(/^[A-Z0-9]{1,10}$/, 'must be 1–10 upper-case letters or digits')
    .default('SYM'),
  /**
   * VAT rate in basis points (2000 = 20 %), applied to tax-inclusive catalogue prices. Default 0: invoices
   * carry a labelled "VAT 0 %" line. See modules/invoices/tax.ts for the rounding.
   */
  PAYMENTS_VAT_RATE_BPS: z.coerce.number().int().min(0).max(10_000).default(0),

  // Stripe (modules/stripe). Unset: card payments are unavailable.
  STRIPE_SECRET_KEY: z.string().optional(),
  STRIPE_WEBHOOK_SECRET: z.string().optional(),
  /** Base URL override (tests point it at a local server speaking the few endpoints used). */
  STRIPE_API_URL: envField.optionalUrl(),

  // PayPal Orders v2 (modules/paypal). Unset: PayPal is unavailable.
  PAYPAL_CLIENT_ID: z.string().optional(),
  PAYPAL_CLIENT_SECRET: z.string().optional(),
  PAYPAL_WEBHOOK_ID: z.string().optional(),
  /** Default: PayPal's sandbox API; tests point it at a local server. */
  PAYPAL_API_URL: envField.optionalUrl(),

  // Crypto (modules/crypto): PaymentReceiver on the chain the chain subgraph uses.
  /** The chain node (read-only here; only the chain subgraph signs). */
  CHAIN_RPC_URL: z.url().default('http://127.0.0.1:8545'),
  /** The contracts' deployment record, the chain subgraph's value. Default: <DATA_DIR>/chain/deployment.json. */
  CHAIN_DEPLOYMENT_PATH: z.string().optional(),
  /**
   * Hours after which an order nothing was paid for (PENDING) expires, so a later order takes the current
   * price; 0 never expires them. Longer than a Stripe Checkout Session (24 h) and a crypto quote's windows.
   */
  PAYMENTS_ORDER_TTL_HOURS: z.coerce.number().int().min(0).max(8760).default(72),
  /** How long a crypto quote holds its rate, in minutes. */
  PAYMENTS_CRYPTO_QUOTE_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  /**
   * Fixed DEVELOPMENT rates (never for production): JSON mapping "<TOKEN>/<CURRENCY>" to the price of one
   * whole token in the currency's minor units as a decimal string, e.g. {"ETH/EUR":"300000"} = 1 ETH is
   * EUR 3,000.00. Unset: the crypto module's labelled dev defaults in the embedded profile.
   */
  PAYMENTS_CRYPTO_DEV_RATES: z.string().optional(),
  /** Minutes an underpaid crypto order stays open for a top-up after its quote expires. */
  PAYMENTS_CRYPTO_TOPUP_MINUTES: z.coerce.number().int().min(0).max(10_080).default(60),
};

export type PaymentsEnv = ReturnType<typeof parsePaymentsEnv>;

export function parsePaymentsEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv(paymentsEnvShape, source);
}

/** The deployment record, found the way the chain subgraph finds it, so both read the same file. */
export function chainDeploymentPath(env: Pick<PaymentsEnv, 'CHAIN_DEPLOYMENT_PATH' | 'DATA_DIR'>): string {
  return env.CHAIN_DEPLOYMENT_PATH
    ? path.resolve(process.env.INIT_CWD ?? process.cwd(), env.CHAIN_DEPLOYMENT_PATH)
    : path.join(env.DATA_DIR, 'chain', 'deployment.json');
}
