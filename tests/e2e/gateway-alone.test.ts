import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  errorCodes,
  graphqlClient,
  repositoryRoot,
  startProcess,
  startTcpProxy,
  startTestStack,
  type GraphQLRequest,
  type RunningProcess,
  type TcpProxy,
  type TestStack,
} from '../kit/index.js';

// `npm run start -w gateway` with PORT and SUPERGRAPH_PATH, in front of the stack's subgraphs; learning is
// reached through a TCP proxy so the test can take it off the network and bring it back.
let stack: TestStack;
let proxy: TcpProxy;
let gateway: RunningProcess;
let graphql: GraphQLRequest;
let gatewayUrl: string;
let folder: string;
let supergraphPath: string;

const crossSubgraph = '{ user(handle: "ada") { displayName coursesTaught { slug } } }';

async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  stack = await startTestStack();
  proxy = await startTcpProxy(stack.subgraphUrls.learning);
  folder = mkdtempSync(path.join(tmpdir(), 'symbeon-gateway-'));
  supergraphPath = path.join(folder, 'supergraph.graphql');
  copyFileSync(path.join(repositoryRoot, 'schema', 'supergraph.graphql'), supergraphPath);
  gateway = startProcess('gateway/src/index.ts', {
    PORT: '0',
    LOG_LEVEL: 'info',
    SUPERGRAPH_PATH: supergraphPath,
    // Every subgraph the stack runs, by its own URL; learning through the proxy.
    ...Object.fromEntries(
      Object.entries(stack.subgraphUrls).map(([name, url]) => [
        `SUBGRAPH_URL_${name.toUpperCase()}`,
        `${url}/graphql`,
      ]),
    ),
    SUBGRAPH_URL_LEARNING: `${proxy.url}/graphql`,
    // The stack's Redis (when it has one), where identity records revoked sessions. INTERNAL_AUTH_SECRET
    // is the stack's too: the kit gives every process it starts the same one.
    REDIS_URL: stack.env.REDIS_URL ?? '',
    REDIS_PREFIX: stack.env.REDIS_PREFIX ?? '',
  });
  const [, url] = await gateway.waitFor(/"url":"(http:\/\/[^"]+)\/graphql"[^\n]*gateway ready/);
  gatewayUrl = url!;
  graphql = graphqlClient(`${gatewayUrl}/graphql`);
});

afterAll(async () => {
  await gateway?.stop();
  await proxy?.close();
  await stack?.stop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('the gateway alone, over any composed supergraph', () => {
  it('serves the supergraph from SUPERGRAPH_PATH', async () => {
    const response = await graphql(crossSubgraph);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.user.coursesTaught.length).toBeGreaterThan(0);
  });

  it('gives partial data with a coded error when a subgraph is down, stays up, and recovers', async () => {
    await proxy.cut();
    const partial = await graphql(crossSubgraph);
    expect(partial.status).toBe(200);
    expect(partial.body.data).toEqual({ user: { displayName: 'Ada Lovelace', coursesTaught: null } });
    expect(errorCodes(partial)).toContain('SUBGRAPH_UNAVAILABLE');
    expect(partial.body.errors![0]!.message).toBe('Subgraph "learning" is unavailable');

    const ready = await fetch(`${gatewayUrl}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/learning/);
    expect((await fetch(`${gatewayUrl}/health`)).status).toBe(200);

    await proxy.restore();
    const recovered = await graphql(crossSubgraph);
    expect(recovered.body.errors).toBeUndefined();
    expect(recovered.body.data!.user.coursesTaught.length).toBeGreaterThan(0);
    expect((await fetch(`${gatewayUrl}/ready`)).status).toBe(200);
  });

  it('reloads the supergraph when the file changes, and keeps the last good one when it is broken', async () => {
    const identityOnly = composeServices([
      {
        name: 'identity',
        url: `${stack.subgraphUrls.identity}/graphql`,
        typeDefs: parse(readFileSync(path.join(repositoryRoot, 'subgraphs/identity/schema.graphql'), 'utf8')),
      },
    ]);
    if (identityOnly.errors) throw identityOnly.errors[0];
    writeFileSync(supergraphPath, identityOnly.supergraphSdl);
    const narrowed = await eventually(
      () => graphql('{ courses(first: 1) { edges { cursor } } }'),
      (response) => errorCodes(response).includes('GRAPHQL_VALIDATION_FAILED'),
    );
    expect(errorCodes(narrowed)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect((await graphql('{ user(handle: "ada") { displayName } }')).body.data!.user.displayName).toBe(
      'Ada Lovelace',
    );

    writeFileSync(supergraphPath, 'this is not a supergraph');
    await gateway.waitFor(/supergraph rejected; keeping the current one/);
    expect((await graphql('{ user(handle: "ada") { displayName } }')).body.data!.user.displayName).toBe(
      'Ada Lovelace',
    );

    copyFileSync(path.join(repositoryRoot, 'schema', 'supergraph.graphql'), supergraphPath);
    const widened = await eventually(
      () => graphql(crossSubgraph),
      (response) => response.body.errors === undefined,
    );
    expect(widened.body.data!.user.coursesTaught.length).toBeGreaterThan(0);
  });
});
