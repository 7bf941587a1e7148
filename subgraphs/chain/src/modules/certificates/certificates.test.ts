import { randomUUID } from 'node:crypto';
import { cidToDigest } from '@symbeon/contracts';
import { INTERNAL_TOKEN_HEADER, signInternalToken, type Principal } from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  randomCid,
  startChainFixture,
  testInternalAuthSecret,
  type ChainFixture,
} from '../../test-fixture.js';
import { encodeEventCursor } from './certificates-manager.js';

// The subgraph as the gateway uses it: GraphQL over HTTP and graphql-ws on /graphql, with internal tokens.
let chain: ChainFixture;
const holder = anvilDevAccounts[3].address;
const reader: Principal = {
  kind: 'user',
  userId: randomUUID(),
  sessionId: randomUUID(),
  roles: ['ISSUER'],
  scopes: ['certificates:read', 'certificates:issue', 'transactions:read'],
  tier: 'FREE',
};
const member: Principal = { ...reader, roles: ['MEMBER'], scopes: [] };

beforeAll(async () => {
  chain = await startChainFixture();
});

afterAll(async () => {
  await chain?.close();
});

async function graphql(
  query: string,
  variables: Record<string, unknown> = {},
  principal: Principal = reader,
) {
  const response = await fetch(`${chain.service.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [INTERNAL_TOKEN_HEADER]: await signInternalToken(testInternalAuthSecret, principal, 'test'),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as {
    data?: Record<string, any>;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

function wsClient(principal: Principal = reader): Client {
  return createClient({
    url: `${chain.service.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: async () => ({
      [INTERNAL_TOKEN_HEADER]: await signInternalToken(testInternalAuthSecret, principal, 'ws'),
    }),
  });
}

interface Received {
  cursor: string;
  type: string;
  tokenId: string;
  holder: { address: string };
  blockNumber: number;
  confirmations: number;
}

const SUBSCRIPTION = `subscription ($after: String, $filter: CertificateEventFilter) {
  certificateEvents(after: $after, filter: $filter) { cursor type tokenId holder { address } blockNumber txHash confirmations occurredAt }
}`;

/** Collects events until `count` arrived; `errors` gets a subscription's error instead. */
function collect(client: Client, variables: Record<string, unknown>, count: number) {
  const received: Received[] = [];
  let dispose = () => {};
  const done = new Promise<Received[]>((resolve, reject) => {
    dispose = client.subscribe<{ certificateEvents: Received }>(
      { query: SUBSCRIPTION, variables },
      {
        next: (value) => {
          if (value.errors) return reject(new Error(JSON.stringify(value.errors)));
          received.push(value.data!.certificateEvents);
          if (received.length === count) resolve(received);
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(received),
      },
    );
  });
  return { received, done, dispose: () => dispose() };
}

async function issue(contentCid: string) {
  const transactions = chain.service.modules.transactions;
  const row = await transactions.waitSettled(
    (await transactions.issue({ holder, contentCid, idempotencyKey: randomUUID() })).id,
  );
  return row;
}

const tokenOf = (cid: string) => BigInt(cidToDigest(cid)).toString();

describe('chain subgraph API', () => {
  it('issues through the mutation, with coded errors for bad input, and reads the indexed certificate', async () => {
    const contentCid = await randomCid();
    const mutation = `mutation ($input: IssueOnChainCertificateInput!) {
      issueOnChainCertificate(input: $input) { ok error { code field } transaction { id status hash nonce } }
    }`;
    const bad = await graphql(mutation, {
      input: { holder: '0x123', contentCid, idempotencyKey: 'api-bad' },
    });
    expect(bad.data?.issueOnChainCertificate).toMatchObject({
      ok: false,
      error: { code: 'BAD_USER_INPUT', field: 'input.holder' },
      transaction: null,
    });
    const refused = await graphql(
      mutation,
      { input: { holder, contentCid, idempotencyKey: 'api-1' } },
      member,
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const sent = await graphql(mutation, { input: { holder, contentCid, idempotencyKey: 'api-1' } });
    expect(sent.data?.issueOnChainCertificate).toMatchObject({ ok: true, error: null });
    const id = sent.data!.issueOnChainCertificate.transaction.id as string;
    const mined = await chain.service.modules.transactions.waitSettled(id);
    await chain.service.indexer.waitFor(mined.blockNumber!);

    const read = await graphql(
      `
        query ($tokenId: String!) {
          chainStatus {
            chainId
            headBlock
            indexedBlock
            certificateContract
            confirmations
          }
          onChainCertificate(tokenId: $tokenId) {
            tokenId
            holder {
              address
            }
            locked
            revoked
            expiresAt
            contentCid
            issuer {
              address
            }
            issuedAtBlock
            valid
          }
          transactions(first: 5) {
            edges {
              node {
                idempotencyKey
                status
              }
            }
          }
        }
      `,
      { tokenId: tokenOf(contentCid) },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data?.chainStatus).toMatchObject({
      chainId: 31337,
      certificateContract: chain.deployment.contracts.SymbeonCertificate.address,
      confirmations: 0,
    });
    expect(read.data?.onChainCertificate).toEqual({
      tokenId: tokenOf(contentCid),
      holder: { address: holder },
      locked: true,
      revoked: false,
      expiresAt: null,
      contentCid,
      issuer: { address: anvilDevAccounts[0].address },
      issuedAtBlock: mined.blockNumber,
      valid: true,
    });
    expect(read.data?.transactions.edges[0].node).toEqual({ idempotencyKey: 'api-1', status: 'MINED' });
  });

  it('replays events after a cursor, then goes live, with no gap and no duplicate', async () => {
    const client = wsClient();
    const [a, b, c, d] = [await randomCid(), await randomCid(), await randomCid(), await randomCid()];
    await issue(a);
    const last = await issue(b);
    await chain.service.indexer.waitFor(last.blockNumber!);

    // From the beginning: everything so far (replay), then c and d (live).
    const all = await chain.service.modules.storage.indexer.eventsAfter(0, 1000);
    const subscription = collect(client, { after: encodeEventCursor(0) }, all.length + 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await issue(c);
    await issue(d);
    const received = await subscription.done;
    subscription.dispose();
    const tokens = received.map((event) => event.tokenId);
    expect(tokens).toEqual([...all.map((row) => row.tokenId), tokenOf(c), tokenOf(d)]);
    expect(new Set(received.map((event) => event.cursor)).size).toBe(received.length);
    expect(received.at(-1)).toMatchObject({ type: 'ISSUED', holder: { address: holder } });
    expect(received.at(-1)!.confirmations).toBeGreaterThanOrEqual(1);

    // Resuming after b's cursor with live issues racing the replay: c, d, then e, exactly once each.
    const afterB = received.find((event) => event.tokenId === tokenOf(b))!.cursor;
    const e = await randomCid();
    const resumed = collect(client, { after: afterB, filter: { holder, types: ['ISSUED'] } }, 3);
    await issue(e);
    expect((await resumed.done).map((event) => event.tokenId)).toEqual([tokenOf(c), tokenOf(d), tokenOf(e)]);
    resumed.dispose();
    await client.dispose();
  });

  it('refuses an invalid cursor with BAD_USER_INPUT and callers without certificates:read', async () => {
    const client = wsClient();
    await expect(collect(client, { after: 'not-a-cursor' }, 1).done).rejects.toThrow(/BAD_USER_INPUT/);
    await client.dispose();
    const outsider = wsClient(member);
    await expect(collect(outsider, {}, 1).done).rejects.toThrow(/FORBIDDEN/);
    await outsider.dispose();
  });
});
