import { createHash } from 'node:crypto';
import type {
  GatewayExecutor,
  GatewayGraphQLRequestContext,
  GatewayInterface,
} from '@apollo/server-gateway-interface';
import { print, type DocumentNode, type GraphQLError, type GraphQLSchema } from 'graphql';
import { filterOperation, type Removal } from './filter.js';
import type { AuthzSubject, PolicyFunction } from './principal-check.js';
import { reshapeResponse, unauthorizedError } from './reshape.js';
import { extractRequirements, type AuthzRequirements } from './requirements.js';

export type AuthzMode = 'filter' | 'reject';

export interface AuthzOptions<TContext, TSubject extends AuthzSubject> {
  /** filter (default): unauthorized fields answer null with an error; reject: the whole operation is refused. */
  mode: AuthzMode;
  policies: Readonly<Record<string, PolicyFunction<TSubject>>>;
  subjectOf: (context: TContext) => TSubject;
  onUnknownPolicies?: (names: string[]) => void;
}

const keysOf = (removal: Removal) => removal.segments.map((segment) => segment.key);

/**
 * Enforces @authenticated / @requiresScopes / @policy in front of @apollo/gateway's executor, which
 * implements none of them: the operation is filtered before it is planned (so a subgraph never sees a field
 * the caller may not have), and the response is shaped back with nulls and errors.
 */
export function createAuthzEnforcer<TContext, TSubject extends AuthzSubject>(
  options: AuthzOptions<TContext, TSubject>,
) {
  let requirements: AuthzRequirements = extractRequirements('');

  function authorize(inner: GatewayExecutor): GatewayExecutor {
    return async (requestContext) => {
      if (!requirements.any) return inner(requestContext);
      const subject = options.subjectOf(requestContext.context as TContext);
      const result = filterOperation({
        schema: requestContext.schema,
        requirements,
        document: requestContext.document,
        operationName: requestContext.request.operationName ?? null,
        subject,
        policies: options.policies,
      });
      if (result.removals.length === 0) return inner(requestContext);
      if (options.mode === 'reject' || result.empty) {
        const errors: GraphQLError[] = result.removals.map((removal) => unauthorizedError(keysOf(removal)));
        return options.mode === 'reject' ? { errors } : { data: null, errors };
      }
      // The plan cache is keyed by queryHash: the filtered operation must not share the original's plan.
      const filteredContext: GatewayGraphQLRequestContext = {
        ...requestContext,
        document: result.document,
        queryHash: createHash('sha256').update(print(result.document)).digest('hex'),
      };
      const response = await inner(filteredContext);
      const shaped = reshapeResponse(response.data, result.removals);
      return { ...response, data: shaped.data, errors: [...(response.errors ?? []), ...shaped.errors] };
    };
  }

  /**
   * The same decision for an operation executed outside Apollo Server (subscriptions): the document to plan
   * and the removals to shape each result with, or the response that refuses it.
   */
  function decide(input: {
    schema: GraphQLSchema;
    document: DocumentNode;
    operationName: string | null;
    subject: TSubject;
  }):
    | { refused: false; document: DocumentNode; removals: Removal[] }
    | { refused: true; response: { data?: null; errors: GraphQLError[] } } {
    if (!requirements.any) return { refused: false, document: input.document, removals: [] };
    const result = filterOperation({ ...input, requirements, policies: options.policies });
    if (result.removals.length === 0) return { refused: false, document: input.document, removals: [] };
    if (options.mode === 'reject' || result.empty) {
      const errors = result.removals.map((removal) => unauthorizedError(keysOf(removal)));
      return { refused: true, response: options.mode === 'reject' ? { errors } : { data: null, errors } };
    }
    return { refused: false, document: result.document, removals: result.removals };
  }

  return {
    decide,
    /** Call with the ORIGINAL supergraph (with its security @links) whenever one is loaded. */
    setSupergraph(sdl: string) {
      requirements = extractRequirements(sdl);
      const unknown = [...requirements.policyNames].filter((name) => !options.policies[name]);
      if (unknown.length > 0) options.onUnknownPolicies?.(unknown);
    },

    requirements: () => requirements,

    /** Wraps a gateway so Apollo Server executes through the enforcer. */
    wrap(gateway: GatewayInterface): GatewayInterface {
      return {
        onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
        stop: () => gateway.stop(),
        async load(loadOptions) {
          const loaded = await gateway.load(loadOptions);
          return { ...loaded, executor: loaded.executor && authorize(loaded.executor) };
        },
      };
    },
  };
}
