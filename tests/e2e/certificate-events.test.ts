import { createHash, randomUUID } from 'node:crypto';
import { Wallet } from 'ethers';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as digestOf } from 'multiformats/hashes/digest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { devKeys, signIn, startTestStack, type SignedIn, type TestStack } from '../kit/index.js';

// Live on-chain certificate events as a client meets them: the gateway's graphql-ws endpoint, the chain
// subgraph's subscription, the holder's user from identity on every event, and a real anvil underneath.
let stack: TestStack;
let issuer: SignedIn;
let auditor: SignedIn;
let member: SignedIn;
const ada = new Wallet(devKeys.ada).address;
const clients: Client[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  [issuer, auditor, member] = await Promise.all([
    signIn(stack.graphql, devKeys.symbeon),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.linus),
  ]);
}, 180_000);

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await stack?.stop();
});

/** CIDv1 (raw, sha2-256) of some bytes, as `ipfs add --cid-version=1 --raw-leaves` gives for a small file. */
function cidOf(text: string): string {
  const hash = createHash('sha256').update(text).digest();
  return CID.create(1, raw.code, digestOf(0x12, hash)).toString();
}

function connect(signedIn?: SignedIn): Client {
  const client = createClient({
    url: `${stack.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: signedIn ? { Authorization: `Bearer ${signedIn.accessToken}` } : {},
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

interface CertificateEvent {
  cursor: string;
  type: 'ISSUED' | 'REVOKED' | 'RENEWED';
  tokenId: string;
  holder: { address: string; user: { handle: string; displayName: string } | null };
  blockNumber: number;
  txHash: string;
  confirmations: number;
  occurredAt: string;
}

const SUBSCRIPTION = `subscription($holder: String, $after: String) {
  certificateEvents(filter: { holder: $holder }, after: $after) {
    cursor type tokenId holder { address user { handle displayName } } blockNumber txHash confirmations occurredAt
  }
}`;

function subscribe(client: Client, variables: Record<string, unknown>) {
  const events: CertificateEvent[] = [];
  const results: ExecutionResult[] = [];
  let end!: (outcome: { completed: boolean; error?: unknown }) => void;
  const done = new Promise<{ completed: boolean; error?: unknown }>((resolve) => (end = resolve));
  const unsubscribe = client.subscribe(
    { query: SUBSCRIPTION, variables },
    {
      next: (result) => {
        results.push(result as ExecutionResult);
        const event = (result.data as { certificateEvents?: CertificateEvent } | null)?.certificateEvents;
        if (event) events.push(event);
      },
      error: (error) => end({ completed: false, error }),
      complete: () => end({ completed: true }),
    },
  );
  return { events, results, done, unsubscribe };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function command(mutation: string, input: Record<string, unknown>) {
  const response = await stack.graphql(
    `mutation($input: ${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input!) {
      ${mutation}(input: $input) { ok error { code message } transaction { status hash } }
    }`,
    { input: { ...input, idempotencyKey: randomUUID() } },
    issuer.headers,
  );
  expect(response.body.errors).toBeUndefined();
  const payload = response.body.data![mutation] as { ok: boolean; error: unknown };
  expect(payload).toMatchObject({ ok: true, error: null });
  return payload;
}

const inAYear = () => new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();

describe('certificate events through the gateway (graphql-ws, federated)', () => {
  it('refuses callers without certificates:read', async () => {
    for (const caller of [member, undefined]) {
      const refused = subscribe(connect(caller), { holder: ada });
      const outcome = await refused.done;
      expect(outcome.completed).toBe(false);
      expect(outcome.error).toMatchObject([{ extensions: { code: 'UNAUTHORIZED_FIELD_OR_TYPE' } }]);
    }
  });

  it('streams ISSUED, RENEWED and REVOKED with the holder from identity, and resumes with `after` exactly', async () => {
    const live = subscribe(connect(auditor), { holder: ada });
    // The subscription is live once the gateway has it upstream; an event issued now must arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await command('issueOnChainCertificate', {
      holder: ada,
      contentCid: cidOf(`first ${randomUUID()}`),
      expiresAt: inAYear(),
    });
    await until(() => live.events.length === 1, 'ISSUED');
    const issued = live.events[0]!;
    expect(issued).toMatchObject({
      type: 'ISSUED',
      tokenId: expect.stringMatching(/^\d+$/),
      holder: { address: ada, user: { handle: 'ada' } },
      blockNumber: expect.any(Number),
      txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      confirmations: expect.any(Number),
    });
    expect(live.results.every((result) => result.errors === undefined)).toBe(true);

    await command('renewOnChainCertificate', {
      tokenId: issued.tokenId,
      expiresAt: inAYear(),
      contentCid: cidOf(`renewed ${randomUUID()}`),
    });
    await until(() => live.events.length === 2, 'RENEWED');
    expect(live.events[1]).toMatchObject({ type: 'RENEWED', tokenId: issued.tokenId });
    const lastSeen = live.events[1]!.cursor;

    // The client goes away; what happens meanwhile is replayed when it comes back with `after`.
    live.unsubscribe();
    await command('revokeOnChainCertificate', { tokenId: issued.tokenId, reason: 'issued in error' });
    const onChain = async () =>
      (
        await stack.graphql('query($id: String!) { onChainCertificate(tokenId: $id) { revoked } }', {
          id: issued.tokenId,
        })
      ).body.data?.onChainCertificate as { revoked: boolean } | null;
    for (let attempt = 0; attempt < 100 && !(await onChain())?.revoked; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await onChain()).toEqual({ revoked: true });

    const resumed = subscribe(connect(auditor), { holder: ada, after: lastSeen });
    await until(() => resumed.events.length === 1, 'the replayed REVOKED');
    expect(resumed.events[0]).toMatchObject({
      type: 'REVOKED',
      tokenId: issued.tokenId,
      holder: { user: { handle: 'ada' } },
    });
    // Then live again, with nothing missed and nothing twice.
    await command('issueOnChainCertificate', {
      holder: ada,
      contentCid: cidOf(`second ${randomUUID()}`),
      expiresAt: inAYear(),
    });
    await until(() => resumed.events.length === 2, 'the live ISSUED after the replay');
    expect(resumed.events.map((event) => event.type)).toEqual(['REVOKED', 'ISSUED']);
    expect(new Set(resumed.events.map((event) => event.cursor)).size).toBe(2);
    resumed.unsubscribe();
  });

  it("filters by holder: another holder sees none of ada's certificates", async () => {
    const alan = new Wallet(devKeys.alan).address;
    const other = subscribe(connect(auditor), { holder: alan });
    const adas = subscribe(connect(auditor), { holder: ada });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await command('issueOnChainCertificate', {
      holder: ada,
      contentCid: cidOf(`third ${randomUUID()}`),
      expiresAt: inAYear(),
    });
    await until(() => adas.events.length === 1, "ada's ISSUED");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(other.events).toEqual([]);
    other.unsubscribe();
    adas.unsubscribe();
  });
});
