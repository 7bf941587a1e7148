import { operationFromDocument, Supergraph, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode } from '@apollo/query-planner';
import type { DocumentNode, GraphQLSchema } from 'graphql';

/** The parts of a plan a subscription runs: the owning subgraph's fetch, then the rest per event. */
export interface SubscriptionPlan {
  primary: FetchNode;
  rest: PlanNode | undefined;
}

/**
 * One loaded supergraph as subscriptions need it: @apollo/gateway plans subscription operations but refuses
 * to execute them, so the gateway keeps its own planner over the same supergraph (see
 * ../shared/notes/federated-subscriptions.md).
 */
export interface SubscriptionGraph {
  /** Increases with every load: subscriptions started on an older graph are ended on reload. */
  version: number;
  apiSchema: GraphQLSchema;
  supergraphSchema: GraphQLSchema;
  federationApiSchema: Schema;
  /** Subgraph name → its GraphQL URL (http), overrides applied. */
  subgraphUrls: ReadonlyMap<string, string>;
  plan(document: DocumentNode, operationName: string | null): SubscriptionPlan;
}

export function buildSubscriptionGraph(
  supergraphSdl: string,
  version: number,
  overrides: Record<string, string>,
): SubscriptionGraph {
  const supergraph = Supergraph.build(supergraphSdl);
  const federationApiSchema = supergraph.apiSchema();
  const planner = new QueryPlanner(supergraph);
  const subgraphUrls = new Map(
    supergraph
      .subgraphsMetadata()
      .map(({ name, url }) => [name, overrides[name.toLowerCase()] ?? url] as const),
  );
  // Identical operations plan once (bounded, oldest dropped first).
  const plans = new Map<string, SubscriptionPlan>();
  return {
    version,
    apiSchema: federationApiSchema.toGraphQLJSSchema(),
    supergraphSchema: supergraph.schema.toGraphQLJSSchema(),
    federationApiSchema,
    subgraphUrls,
    plan(document, operationName) {
      const operation = operationFromDocument(federationApiSchema, document, {
        ...(operationName ? { operationName } : {}),
      });
      const key = `${operationName ?? ''}\n${operation.toString()}`;
      const known = plans.get(key);
      if (known) return known;
      const node = planner.buildQueryPlan(operation).node;
      if (node?.kind !== 'Subscription') throw new Error('Not a subscription operation');
      const plan = { primary: node.primary, rest: node.rest };
      if (plans.size >= 500) plans.delete(plans.keys().next().value!);
      plans.set(key, plan);
      return plan;
    },
  };
}
