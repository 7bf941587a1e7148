import { composeServices } from '@apollo/composition';
import type { GatewayExecutor, GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { buildSchema, execute, parse, print, printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createAuthzEnforcer, type AuthzMode } from './enforcer.js';
import type { AuthzSubject } from './principal-check.js';
import { supergraphForGateway } from './requirements.js';

// A subgraph using every directive, composed for real; the "gateway" below executes the operation it is
// handed against the API schema, recording what it was asked (what a subgraph would see).
const subgraph = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@authenticated", "@requiresScopes", "@policy"])
  type Query {
    me: User @authenticated
    user(id: ID!): User
    users: [User!]!
    secret: String @requiresScopes(scopes: [["a:read", "b:read"], ["admin"]])
    node: Node
  }
  interface Node { id: ID! }
  type User implements Node @key(fields: "id") {
    id: ID!
    name: String!
    email: String @policy(policies: [["owner"]])
    sessions: [Session!]! @authenticated
  }
  type Session implements Node @authenticated { id: ID! ip: String! }
`;
const composed = composeServices([{ name: 'a', url: 'http://a', typeDefs: parse(subgraph) }]);
if (composed.errors) throw composed.errors[0];
const supergraphSdl = composed.supergraphSdl;
const apiSchema = buildSchema(printSchema(composed.schema.toAPISchema().toGraphQLJSSchema()));

const ada = {
  __typename: 'User',
  id: 'u1',
  name: 'Ada',
  email: 'ada@example.org',
  sessions: [{ id: 's1', ip: '10.0.0.1' }],
};
const grace = { __typename: 'User', id: 'u2', name: 'Grace', email: 'grace@example.org', sessions: [] };
const root = { me: ada, user: () => ada, users: [ada, grace], secret: 'the secret', node: ada };

interface Subject extends AuthzSubject {
  tags: string[];
}
const anonymous: Subject = { authenticated: false, scopes: new Set(), tags: [] };
const member: Subject = { authenticated: true, scopes: new Set(['a:read']), tags: [] };
const admin: Subject = { authenticated: true, scopes: new Set(['admin']), tags: ['owner'] };

async function run(query: string, subject: Subject, mode: AuthzMode = 'filter') {
  const seen: string[] = [];
  const inner: GatewayExecutor = async (context) => {
    seen.push(print(context.document));
    return execute({ schema: apiSchema, document: context.document, rootValue: root }) as never;
  };
  const enforcer = createAuthzEnforcer<{ subject: Subject }, Subject>({
    mode,
    policies: { owner: (caller) => caller.tags.includes('owner') },
    subjectOf: (context) => context.subject,
  });
  enforcer.setSupergraph(supergraphSdl);
  const gateway = enforcer.wrap({
    load: async () => ({ executor: inner }),
    onSchemaLoadOrUpdate: () => () => {},
    stop: async () => {},
  });
  const { executor } = await gateway.load({
    apollo: { keyHash: '', graphRef: '', key: '', graphId: '', graphVariant: '' } as never,
  });
  const document = parse(query);
  const result = await executor!({
    request: { query },
    document,
    schema: apiSchema,
    queryHash: 'original',
    context: { subject },
  } as unknown as GatewayGraphQLRequestContext);
  const errors = (result.errors ?? []).map((error) => ({ path: error.path, code: error.extensions?.code }));
  return { data: result.data, errors, seen };
}

const unauthorized = (...path: (string | number)[]) => ({ path, code: 'UNAUTHORIZED_FIELD_OR_TYPE' });

describe('authorization directives at the gateway (filter mode)', () => {
  it('gives anonymous callers public data, and null with an error for each protected field', async () => {
    const result = await run('{ me { name } user(id: "u1") { name email } secret }', anonymous);
    expect(result.data).toEqual({ me: null, user: { name: 'Ada', email: null }, secret: null });
    expect(result.errors).toEqual(
      expect.arrayContaining([unauthorized('me'), unauthorized('user', 'email'), unauthorized('secret')]),
    );
    expect(result.errors).toHaveLength(3);
    // Removed before planning: no subgraph is asked for them.
    expect(result.seen[0]).not.toMatch(/\bme\b|email|secret/);
  });

  it('evaluates scopes as (a AND b) OR c and policies by name', async () => {
    // Nothing requested is allowed: data is null (Router semantics).
    expect((await run('{ secret }', member)).data).toBeNull();
    expect((await run('{ secret user(id: "u1") { id } }', member)).data).toEqual({
      secret: null,
      user: { id: 'u1' },
    });
    expect((await run('{ secret }', admin)).data).toEqual({ secret: 'the secret' });
    expect((await run('{ me { name email } }', member)).data).toEqual({ me: { name: 'Ada', email: null } });
    expect((await run('{ me { name email } }', admin)).data).toEqual({
      me: { name: 'Ada', email: 'ada@example.org' },
    });
    const both: Subject = { authenticated: true, scopes: new Set(['a:read', 'b:read']), tags: [] };
    expect((await run('{ secret }', both)).errors).toEqual([]);
  });

  it('puts an error at every list index and keeps aliases', async () => {
    const result = await run('{ people: users { name mail: email } }', member);
    expect(result.data).toEqual({
      people: [
        { name: 'Ada', mail: null },
        { name: 'Grace', mail: null },
      ],
    });
    expect(result.errors).toEqual([unauthorized('people', 0, 'mail'), unauthorized('people', 1, 'mail')]);
  });

  it('propagates null from a removed non-null field to the nearest nullable parent', async () => {
    const result = await run('{ user(id: "u1") { name sessions { ip } } }', anonymous);
    expect(result.data).toEqual({ user: null });
    expect(result.errors).toEqual([unauthorized('user', 'sessions')]);
  });

  it('applies a type requirement wherever the type is returned, including through an interface', async () => {
    const viaInterface = await run('{ node { id } users { id } }', anonymous);
    expect(viaInterface.data).toEqual({ node: null, users: [{ id: 'u1' }, { id: 'u2' }] });
    expect(viaInterface.errors).toEqual([unauthorized('node')]);
    const allowed = await run('{ node { id ... on User { name } } }', member);
    expect(allowed.data).toEqual({ node: { id: 'u1', name: 'Ada' } });
  });

  it('filters inside named fragments', async () => {
    const result = await run(
      'query { user(id: "u1") { ...Card } } fragment Card on User { name email }',
      anonymous,
    );
    expect(result.data).toEqual({ user: { name: 'Ada', email: null } });
    expect(result.errors).toEqual([unauthorized('user', 'email')]);
  });

  it('answers data: null without asking anyone when nothing requested is allowed', async () => {
    const result = await run('{ me { name } secret }', anonymous);
    expect(result.data).toBeNull();
    expect(result.seen).toEqual([]);
    expect(result.errors).toEqual([unauthorized('me'), unauthorized('secret')]);
  });

  it('denies a policy no function is registered for', async () => {
    const enforcer = createAuthzEnforcer<unknown, Subject>({
      mode: 'filter',
      policies: {},
      subjectOf: () => admin,
      onUnknownPolicies: (names) => unknown.push(...names),
    });
    const unknown: string[] = [];
    enforcer.setSupergraph(supergraphSdl);
    expect(unknown).toEqual(['owner']);
  });

  it('passes untouched operations straight through, with their own plan cache key', async () => {
    const result = await run('{ user(id: "u1") { name } }', anonymous);
    expect(result.errors).toEqual([]);
    expect(result.seen).toHaveLength(1);
  });
});

describe('reject mode', () => {
  it('refuses the whole operation when any field is unauthorized, and runs nothing', async () => {
    const result = await run('{ user(id: "u1") { name email } }', anonymous, 'reject');
    expect(result.data).toBeUndefined();
    expect(result.errors).toEqual([unauthorized('user', 'email')]);
    expect(result.seen).toEqual([]);
  });
});

describe('loading such supergraphs', () => {
  it('unmarks the security features for @apollo/gateway and nothing else', () => {
    const loadable = supergraphForGateway(supergraphSdl);
    expect(loadable).not.toMatch(/for: SECURITY/);
    expect(loadable).toContain('@link(url: "https://specs.apollo.dev/authenticated/v0.1")');
    expect(loadable.replace(/\s+/g, '')).toBe(
      supergraphSdl.replace(/, for: SECURITY/g, '').replace(/\s+/g, ''),
    );
  });
});
