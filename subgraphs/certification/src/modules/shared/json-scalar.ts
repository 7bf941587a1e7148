import { GraphQLError, GraphQLScalarType } from 'graphql';

/**
 * Free-form JSON the platform recorded (a transition's evidence). Output only: nothing a client sends is
 * stored as JSON without a schema, so input is refused.
 */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'JSON value recorded by the platform (output only).',
  serialize: (value) => value,
  parseValue() {
    throw new GraphQLError('JSON is output only', { extensions: { code: 'BAD_USER_INPUT' } });
  },
  parseLiteral() {
    throw new GraphQLError('JSON is output only', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});
