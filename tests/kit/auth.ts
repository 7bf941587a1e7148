import { Wallet } from 'ethers';
import { SiweMessage } from 'siwe';
import { anvilDevAccounts } from '@symbeon/kernel/testing';
import type { GraphQLRequest } from './graphql.js';

/**
 * anvil's well-known dev accounts (its public test mnemonic), linked to the embedded profile's demo users.
 * Test keys only: they hold nothing anywhere but a local chain.
 */
export const devKeys = {
  symbeon: anvilDevAccounts[0].privateKey,
  ada: anvilDevAccounts[1].privateKey,
  alan: anvilDevAccounts[2].privateKey,
  grace: anvilDevAccounts[3].privateKey,
  linus: anvilDevAccounts[4].privateKey,
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
