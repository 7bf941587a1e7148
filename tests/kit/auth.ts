import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import type { GraphQLRequest } from './graphql.js';

/**
 * anvil's well-known dev accounts (its public test mnemonic), linked to the embedded profile's demo users.
 * Test keys only: they hold nothing anywhere but a local chain.
 */
export const devKeys = {
  symbeon: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  ada: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  alan: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  grace: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  linus: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
} as const;

export interface SignedIn {
  accessToken: string;
  refreshToken: string;
  userId: string;
  sessionId: string;
  /** Headers for requests as this user. */
  headers: { authorization: string };
}

/** A Sign-In with Ethereum message for the embedded profile's site, with a nonce from the API. */
export async function siweMessage(
  graphql: GraphQLRequest,
  address: string,
  overrides: Partial<SiweMessage> = {},
) {
  const nonce = await graphql('mutation { createSiweNonce }');
  return new SiweMessage({
    domain: 'localhost:8000',
    address,
    statement: 'Sign in to Symbeon',
    uri: 'http://localhost:8000',
    version: '1',
    chainId: 31337,
    nonce: nonce.body.data!.createSiweNonce as string,
    issuedAt: new Date().toISOString(),
    ...overrides,
  }).prepareMessage();
}

/** Signs in through the gateway the way the web app does: nonce, EIP-4361 message, wallet signature. */
export async function signIn(graphql: GraphQLRequest, key: string): Promise<SignedIn> {
  const wallet = new Wallet(key);
  const message = await siweMessage(graphql, wallet.address);
  const response = await graphql(
    `
      mutation ($message: String!, $signature: String!) {
        signInWithEthereum(message: $message, signature: $signature) {
          ok
          error {
            code
            message
          }
          accessToken
          refreshToken
          user {
            id
          }
          session {
            id
          }
        }
      }
    `,
    { message, signature: await wallet.signMessage(message) },
  );
  const payload = response.body.data?.signInWithEthereum;
  if (!payload?.ok) throw new Error(`sign-in failed: ${JSON.stringify(response.body)}`);
  return {
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    userId: payload.user.id,
    sessionId: payload.session.id,
    headers: { authorization: `Bearer ${payload.accessToken}` },
  };
}
