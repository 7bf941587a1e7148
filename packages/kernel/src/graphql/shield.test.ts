import { graphql, GraphQLID, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { describe, expect, it } from 'vitest';
import { applyOwnershipRules, rule } from './shield.js';

/** A two-field schema for the ownership-rule tests (no SDL tooling needed). */
export function makeExecutableSchemaLike(): GraphQLSchema {
  const User = new GraphQLObjectType({
    name: 'User',
    fields: {
      id: { type: new GraphQLNonNull(GraphQLID) },
      name: { type: GraphQLString },
      secret: { type: GraphQLString },
    },
  });
  return new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        user: { type: User, resolve: () => ({ id: 'u1', name: 'Ada', secret: 's3cret' }) },
        broken: {
          type: GraphQLString,
          resolve: () => {
            throw new Error('resolver failed');
          },
        },
      },
    }),
  });
}

describe('ownership rules', () => {
  const schema = applyOwnershipRules(makeExecutableSchemaLike(), {
    User: {
      secret: rule({ cache: 'contextual' })(
        (user: { id: string }, _: unknown, context: { caller?: string }) => context.caller === user.id,
      ),
    },
  });
  const run = (caller?: string) =>
    graphql({ schema, source: '{ user { id name secret } broken }', contextValue: { caller } });

  it('answers the owner, refuses others with null and FORBIDDEN, and leaves other fields and errors alone', async () => {
    const owner = await run('u1');
    expect(owner.data).toEqual({ user: { id: 'u1', name: 'Ada', secret: 's3cret' }, broken: null });
    expect(owner.errors?.map((error) => error.message)).toEqual(['resolver failed']);
    const stranger = await run('u2');
    expect(stranger.data).toEqual({ user: { id: 'u1', name: 'Ada', secret: null }, broken: null });
    expect(stranger.errors?.map((error) => [error.message, error.extensions.code])).toEqual(
      expect.arrayContaining([
        ['Not yours to see', 'FORBIDDEN'],
        ['resolver failed', undefined],
      ]),
    );
  });
});
