import { randomBytes } from 'node:crypto';
import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { ANONYMOUS, INTERNAL_TOKEN_HEADER, signInternalToken } from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';

/**
 * Secrets every process of one bench run shares: INTERNAL_AUTH_SECRET (gateway → subgraph tokens) and, as
 * NODE_ENV=production requires them, SECRETS_KEY (identity) and CHAIN_SIGNER_KEY (chain). Fresh per run (the
 * signer is anvil's public dev key), never written down.
 */
export function benchSecrets(): {
  INTERNAL_AUTH_SECRET: string;
  SECRETS_KEY: string;
  CHAIN_SIGNER_KEY: string;
} {
  return {
    INTERNAL_AUTH_SECRET: randomBytes(48).toString('base64url'),
    SECRETS_KEY: `k1:${randomBytes(32).toString('base64')}`,
    // The local anvil's first dev account (public test key), which the stack makes the issuer.
    CHAIN_SIGNER_KEY: anvilDevAccounts[0].privateKey,
  };
}

/**
 * Budgets no benchmark reaches, so it measures throughput rather than the limiter's refusals; the limiter
 * still counts every request.
 */
export const UNREACHABLE_RATE_LIMITS = 'ANONYMOUS:100000000/100000000000,FREE:100000000/100000000000';

/** Headers for a load, and (when they expire during it) a function giving valid ones at any moment. */
export interface LoadHeaders {
  headers: Record<string, string>;
  /** Set when `headers` would expire before the load ends: call it per request instead. */
  live?: () => Record<string, string>;
}

/** Where a load's credentials come from; none for callers that need none. */
export interface HeaderSource {
  /** Headers that stay valid for `seconds` from now (or a `live` source when no fixed value can). */
  forSeconds(seconds: number): Promise<LoadHeaders>;
  /** What the headers are, for the report (never the secret values). */
  describe: string;
}

export const NO_HEADERS: HeaderSource = {
  forSeconds: async () => ({ headers: {} }),
  describe: 'no credentials',
};

/** Seconds a JWT has left, from its `exp` claim (not verified: our own tokens, read for scheduling only). */
export function secondsLeft(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    exp?: number;
  };
  if (typeof payload.exp !== 'number') throw new Error('token without exp');
  return payload.exp - Date.now() / 1000;
}

/** Margin kept between a token's expiry and the end of the load that uses it. */
const EXPIRY_MARGIN_SECONDS = 5;

/**
 * The gateway's internal token for the anonymous principal, for callers that stand in for the gateway:
 * the plain ApolloGateway (c) and requests straight to a subgraph (a). Signed with the kernel, which
 * reuses a token until less than 20 s of its 60 s remain; a timer keeps `current()` fresh.
 */
export async function internalTokenSource(secret: string) {
  let token = await signInternalToken(secret, ANONYMOUS, 'bench');
  const refresh = async () => {
    token = await signInternalToken(secret, ANONYMOUS, 'bench');
  };
  const timer = setInterval(() => void refresh(), 5_000);
  timer.unref();
  const headerSource: HeaderSource = {
    describe: `${INTERNAL_TOKEN_HEADER}: <internal token, anonymous principal>`,
    async forSeconds(seconds) {
      await refresh();
      const headers = { [INTERNAL_TOKEN_HEADER]: token };
      if (secondsLeft(token) >= seconds + EXPIRY_MARGIN_SECONDS) return { headers };
      // Longer than a token lives: each request reads the token the timer keeps fresh.
      return { headers, live: () => ({ [INTERNAL_TOKEN_HEADER]: token }) };
    },
  };
  return {
    /** A token valid right now (at least 15 s more, kept by the timer). */
    current: () => token,
    headerSource,
    stop: () => clearInterval(timer),
  };
}

export interface SignedInUser {
  accessToken: string;
  address: string;
  /** The user the wallet belongs to (the brief's mutation plus `user { handle }`, to check who signed in). */
  handle: string | null;
}

async function postGraphql(url: string, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  try {
    return { status: response.status, text, body: JSON.parse(text) as { data?: any; errors?: unknown } };
  } catch {
    throw new Error(`${url} answered HTTP ${response.status} with a non-JSON body: ${text.slice(0, 300)}`);
  }
}

/**
 * Signs in through a gateway with Sign-In with Ethereum (EIP-4361), as the web app does: a nonce from the
 * API, a message for the embedded profile's site (localhost:8000, anvil's chain 31337), a wallet signature.
 */
export async function signInWithEthereum(gatewayGraphqlUrl: string, key: string): Promise<SignedInUser> {
  const wallet = new Wallet(key);
  const nonce = await postGraphql(gatewayGraphqlUrl, 'mutation { createSiweNonce }');
  const value: unknown = nonce.body.data?.createSiweNonce;
  if (typeof value !== 'string') {
    throw new Error(`createSiweNonce failed: HTTP ${nonce.status} ${nonce.text.slice(0, 500)}`);
  }
  const message = new SiweMessage({
    domain: 'localhost:8000',
    address: wallet.address,
    statement: 'Sign in to Symbeon',
    uri: 'http://localhost:8000',
    version: '1',
    chainId: 31337,
    nonce: value,
    issuedAt: new Date().toISOString(),
  }).prepareMessage();
  const signature = await wallet.signMessage(message);
  const response = await postGraphql(
    gatewayGraphqlUrl,
    'mutation($message: String!, $signature: String!) { signInWithEthereum(message: $message, signature: $signature) { ok error { code message } accessToken user { handle } } }',
    { message, signature },
  );
  const payload = response.body.data?.signInWithEthereum;
  if (response.status !== 200 || !payload?.ok || typeof payload.accessToken !== 'string') {
    throw new Error(`signInWithEthereum failed: HTTP ${response.status} ${response.text.slice(0, 500)}`);
  }
  return {
    accessToken: payload.accessToken as string,
    address: wallet.address,
    handle: typeof payload.user?.handle === 'string' ? (payload.user.handle as string) : null,
  };
}

/** Who the gateway takes the caller to be: `viewer.handle`, null when anonymous. */
export async function viewerHandle(
  gatewayGraphqlUrl: string,
  headers: Record<string, string>,
): Promise<string | null> {
  const response = await fetch(gatewayGraphqlUrl, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ viewer { handle } }' }),
  });
  const text = await response.text();
  let body: { data?: { viewer?: { handle?: unknown } | null }; errors?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = {};
  }
  if (response.status !== 200 || body.errors !== undefined || body.data === undefined) {
    throw new Error(`{ viewer { handle } } failed: HTTP ${response.status} ${text.slice(0, 500)}`);
  }
  const handle = body.data.viewer?.handle;
  return typeof handle === 'string' ? handle : null;
}

/**
 * `Authorization: Bearer <access token>` of a user signed in with `key`; signs in again when the token
 * (15 minutes) would expire before a load ends.
 */
export async function userHeaderSource(gatewayGraphqlUrl: string, key: string, label: string) {
  let user = await signInWithEthereum(gatewayGraphqlUrl, key);
  let signIns = 1;
  const headerSource: HeaderSource = {
    describe: `authorization: Bearer <access token of ${label}>`,
    async forSeconds(seconds) {
      if (secondsLeft(user.accessToken) < seconds + EXPIRY_MARGIN_SECONDS + 30) {
        user = await signInWithEthereum(gatewayGraphqlUrl, key);
        signIns += 1;
      }
      return { headers: { authorization: `Bearer ${user.accessToken}` } };
    },
  };
  return {
    headerSource,
    address: () => user.address,
    handle: () => user.handle,
    signIns: () => signIns,
    accessTokenSecondsLeft: () => secondsLeft(user.accessToken),
  };
}
