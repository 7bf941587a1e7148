import { createHash, randomUUID } from 'node:crypto';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource } from '@apollo/gateway';
import type { QueryPlan } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  print,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import type { Client, createClient } from 'graphql-ws';
import {
  childTrace,
  INTERNAL_TOKEN_HEADER,
  signInternalToken,
  type Logger,
  type Principal,
} from '@symbeon/kernel';
import { AuthenticationError } from '../auth/authenticate.js';
import type { Removal } from '../authz/filter.js';
import { reshapeResponse } from '../authz/reshape.js';
import type { GatewayContext } from '../context.js';
import { buildSubscriptionGraph, type SubscriptionGraph, type SubscriptionPlan } from './graph.js';
import { PushQueue } from './queue.js';

/** Codes a subscription may end with (besides UNAUTHORIZED_FIELD_OR_TYPE and validation errors). */
export const SubscriptionCode = {
  /** The supergraph was reloaded: subscribe again (resume with `after` where the field offers it). */
  SUPERGRAPH_RELOADED: 'SUPERGRAPH_RELOADED',
  /** The caller's token expired, or its session or key was revoked, since it subscribed. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The caller is no longer who subscribed (a key's scopes changed...): subscribe again. */
  PRINCIPAL_CHANGED: 'PRINCIPAL_CHANGED',
  /** The credentials could not be re-checked (revocation store down): fail closed. */
  AUTHENTICATION_UNAVAILABLE: 'AUTHENTICATION_UNAVAILABLE',
  /** The subgraph owning the subscription closed it or cannot be reached. */
  SUBGRAPH_UNAVAILABLE: 'SUBGRAPH_UNAVAILABLE',
  /** Too many subscriptions on this connection, or for this caller. */
  SUBSCRIPTION_LIMIT: 'SUBSCRIPTION_LIMIT',
  /** The client read too slowly and fell too far behind. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** A query or mutation sent over a subscription transport. */
  NOT_A_SUBSCRIPTION: 'NOT_A_SUBSCRIPTION',
  /** The gateway is shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
} as const;

export const endedWith = (code: string, message: string): ExecutionResult => ({
  errors: [new GraphQLError(message, { extensions: { code } })],
});

/** Who subscribes, and how to re-check them on every event. */
export interface SubscriptionCaller {
  principal: Principal;
  clientIp: string;
  /** Re-verifies the credentials the connection presented (memoised briefly); throws when they no longer hold. */
  recheck(): Promise<Principal>;
  /** Counts this connection's open subscriptions (per-connection limit). */
  connection: { active: number };
}

interface Listener {
  queue: PushQueue<ExecutionResult>;
  caller: SubscriptionCaller;
}

interface Group {
  key: string;
  graph: SubscriptionGraph;
  plan: SubscriptionPlan;
  document: DocumentNode;
  query: string;
  operationName: string | null;
  variables: Record<string, unknown>;
  removals: Removal[];
  principal: Principal;
  principalKey: string;
  listeners: Set<Listener>;
  /** Events are handled one at a time, in order. */
  chain: Promise<void>;
  unsubscribe?: () => void;
  clientKey?: string;
  ended: boolean;
}

export interface SubscriptionEngineOptions {
  logger: Logger;
  internalAuthSecret: string;
  /** The gateway's subgraph data sources, by name: they run the rest of each plan. */
  dataSources: () => Record<string, GraphQLDataSource>;
  subgraphUrlOverrides: Record<string, string>;
  limits: { perConnection: number; perPrincipal: number; bufferedEvents: number };
  /** The graphql-ws client implementation's WebSocket (ws). */
  webSocketImpl: unknown;
  createClient: typeof createClient;
}

/** Identity for sharing and limits: sessions of one user share; the same key shares. */
export function principalKey(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'user':
      return `user:${principal.userId}:${principal.tier}:${principal.roles.join(',')}:${principal.scopes.join(',')}`;
    case 'api-key':
      return `key:${principal.keyId}:${principal.tier}:${principal.roles.join(',')}:${principal.scopes.join(',')}`;
  }
}

function limitKey(caller: SubscriptionCaller): string {
  const { principal } = caller;
  if (principal.kind === 'user') return `user:${principal.userId}`;
  if (principal.kind === 'api-key') return `key:${principal.keyId}`;
  return `ip:${caller.clientIp}`;
}

const EVENT_SOURCE = '__symbeon_subscription_event__';

function wsUrl(httpUrl: string): string {
  const url = new URL(httpUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

function describeUpstreamError(error: unknown): string {
  if (Array.isArray(error)) return (error as GraphQLFormattedError[]).map((item) => item.message).join('; ');
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error && 'code' in error) {
    const close = error as { code: number; reason?: string };
    return `closed with ${close.code}${close.reason ? ` (${close.reason})` : ''}`;
  }
  return String(error);
}

/**
 * Federated subscriptions on top of @apollo/gateway: plans with the query planner, subscribes upstream over
 * graphql-ws to the subgraph owning the root field (with the gateway's internal token for the caller), runs
 * the rest of the plan per event (fields from other subgraphs), shapes each result with the authorization
 * removals, re-checks the caller's credentials per event, and shares one upstream subscription (and one
 * per-event execution) among identical subscriptions by callers with the same authorization.
 */
export function createSubscriptionEngine(options: SubscriptionEngineOptions) {
  const { logger } = options;
  let graph: SubscriptionGraph | undefined;
  let version = 0;
  let closed = false;
  const groups = new Map<string, Group>();
  const clients = new Map<string, { client: Client; refs: number }>();
  const perPrincipal = new Map<string, number>();

  function clientFor(
    serviceName: string,
    url: string,
    principal: Principal,
  ): { key: string; client: Client } {
    const key = `${serviceName}\n${url}\n${principalKey(principal)}`;
    let entry = clients.get(key);
    if (!entry) {
      entry = {
        refs: 0,
        client: options.createClient({
          url: wsUrl(url),
          webSocketImpl: options.webSocketImpl,
          lazy: true,
          lazyCloseTimeout: 0,
          // A dropped upstream ends its subscriptions with a code; clients resume (with `after`).
          retryAttempts: 0,
          connectionParams: async () => ({
            [INTERNAL_TOKEN_HEADER]: await signInternalToken(
              options.internalAuthSecret,
              principal,
              `subscription-${randomUUID()}`,
            ),
          }),
        }),
      };
      clients.set(key, entry);
    }
    entry.refs += 1;
    return { key, client: entry.client };
  }

  function releaseClient(key: string | undefined) {
    if (!key) return;
    const entry = clients.get(key);
    if (!entry) return;
    entry.refs -= 1;
    if (entry.refs <= 0) {
      clients.delete(key);
      void entry.client.dispose();
    }
  }

  function endGroup(group: Group, last: ExecutionResult | undefined) {
    if (group.ended) return;
    group.ended = true;
    groups.delete(group.key);
    group.unsubscribe?.();
    releaseClient(group.clientKey);
    for (const listener of [...group.listeners]) {
      if (last) listener.queue.push(last);
      listener.queue.end();
    }
  }

  function gatewayContext(group: Group): GatewayContext {
    return {
      requestId: `subscription-${randomUUID()}`,
      trace: childTrace(undefined),
      clientIp: 'gateway',
      principal: group.principal,
    };
  }

  async function execute(group: Group, event: ExecutionResult): Promise<ExecutionResult> {
    const plan: QueryPlan = {
      kind: 'QueryPlan',
      node: {
        kind: 'Sequence',
        nodes: [
          { ...group.plan.primary, serviceName: EVENT_SOURCE },
          ...(group.plan.rest ? [group.plan.rest] : []),
        ],
      },
    };
    const eventSource = {
      process: () =>
        Promise.resolve({ data: event.data ?? null, ...(event.errors ? { errors: event.errors } : {}) }),
    } as unknown as GraphQLDataSource;
    const requestContext = {
      request: {
        query: group.query,
        variables: group.variables,
        operationName: group.operationName ?? undefined,
      },
      context: gatewayContext(group),
      logger,
      metrics: {},
      document: group.document,
      operationName: group.operationName,
    } as unknown as GatewayGraphQLRequestContext;
    const result = await executeQueryPlan(
      plan,
      { ...options.dataSources(), [EVENT_SOURCE]: eventSource },
      requestContext,
      buildOperationContext({
        schema: group.graph.apiSchema,
        operationDocument: group.document,
        ...(group.operationName ? { operationName: group.operationName } : {}),
      }),
      group.graph.supergraphSchema,
      group.graph.federationApiSchema,
    );
    const errors = [...(result.errors ?? [])];
    let data = result.data as Record<string, unknown> | null | undefined;
    if (group.removals.length > 0) {
      const shaped = reshapeResponse(data, group.removals);
      data = shaped.data;
      errors.push(...shaped.errors);
    }
    return { data: data ?? null, ...(errors.length ? { errors } : {}) };
  }

  /** Re-checks one listener's credentials; false when it was ended. */
  function stillAuthorized(group: Group, listener: Listener): boolean | Promise<boolean> {
    // Anonymous callers presented nothing that can expire or be revoked: no promise per event for them.
    if (listener.caller.principal.kind === 'anonymous') return true;
    return recheck(group, listener);
  }

  async function recheck(group: Group, listener: Listener): Promise<boolean> {
    try {
      const principal = await listener.caller.recheck();
      if (principalKey(principal) === group.principalKey) return true;
      listener.queue.push(
        endedWith(SubscriptionCode.PRINCIPAL_CHANGED, 'Your authorization changed: subscribe again'),
      );
    } catch (error) {
      listener.queue.push(
        error instanceof AuthenticationError
          ? endedWith(SubscriptionCode.UNAUTHENTICATED, `Subscription ended: ${error.publicMessage}`)
          : endedWith(
              SubscriptionCode.AUTHENTICATION_UNAVAILABLE,
              'Your credentials could not be re-checked',
            ),
      );
    }
    listener.queue.end();
    return false;
  }

  async function onEvent(group: Group, event: ExecutionResult) {
    if (group.ended || group.listeners.size === 0) return;
    let result: ExecutionResult;
    try {
      result = await execute(group, event);
    } catch (error) {
      logger.error({ err: error }, 'subscription event execution failed');
      result = {
        data: null,
        errors: [
          new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
        ],
      };
    }
    const listeners = [...group.listeners];
    const decisions = listeners.map((listener) => stillAuthorized(group, listener));
    const pending = decisions.filter((decision): decision is Promise<boolean> => decision instanceof Promise);
    const allowed =
      pending.length > 0
        ? await Promise.all(decisions.map((decision) => Promise.resolve(decision)))
        : decisions;
    listeners.forEach((listener, index) => {
      if (allowed[index]) listener.queue.push(result);
    });
  }

  function startUpstream(group: Group) {
    const url = group.graph.subgraphUrls.get(group.plan.primary.serviceName);
    if (!url) {
      endGroup(
        group,
        endedWith(SubscriptionCode.SUBGRAPH_UNAVAILABLE, `No URL for ${group.plan.primary.serviceName}`),
      );
      return;
    }
    const { key, client } = clientFor(group.plan.primary.serviceName, url, group.principal);
    group.clientKey = key;
    const variables: Record<string, unknown> = {};
    for (const name of group.plan.primary.variableUsages ?? []) {
      if (group.variables[name] !== undefined) variables[name] = group.variables[name];
    }
    group.unsubscribe = client.subscribe<Record<string, unknown>>(
      {
        query: group.plan.primary.operation,
        variables,
        ...(group.plan.primary.operationName ? { operationName: group.plan.primary.operationName } : {}),
      },
      {
        next: (event) => {
          group.chain = group.chain.then(() => onEvent(group, event as ExecutionResult));
        },
        error: (error) => {
          logger.warn(
            { subgraph: group.plan.primary.serviceName, reason: describeUpstreamError(error) },
            'upstream subscription failed',
          );
          void group.chain.then(() =>
            endGroup(
              group,
              endedWith(
                SubscriptionCode.SUBGRAPH_UNAVAILABLE,
                Array.isArray(error)
                  ? describeUpstreamError(error)
                  : `The ${group.plan.primary.serviceName} subgraph ended the subscription: subscribe again`,
              ),
            ),
          );
        },
        complete: () => void group.chain.then(() => endGroup(group, undefined)),
      },
    );
  }

  return {
    /** The gateway loaded a supergraph (the SDL it plans with): open subscriptions end with SUPERGRAPH_RELOADED. */
    setSupergraph(sdl: string) {
      const next = buildSubscriptionGraph(sdl, ++version, options.subgraphUrlOverrides);
      const previous = graph;
      graph = next;
      if (previous) {
        for (const group of [...groups.values()]) {
          endGroup(
            group,
            endedWith(SubscriptionCode.SUPERGRAPH_RELOADED, 'The API changed: subscribe again'),
          );
        }
      }
    },

    apiSchema: () => graph?.apiSchema,

    /**
     * Starts one client subscription. `document` is validated against the API schema and already authorized
     * (the filtered document and its removals are passed in).
     */
    subscribe(input: {
      document: DocumentNode;
      operationName: string | null;
      variables: Record<string, unknown>;
      removals: Removal[];
      caller: SubscriptionCaller;
    }): AsyncIterableIterator<ExecutionResult> | ExecutionResult {
      if (closed) return endedWith(SubscriptionCode.SHUTTING_DOWN, 'The gateway is shutting down');
      const current = graph;
      if (!current) return endedWith(SubscriptionCode.SUBGRAPH_UNAVAILABLE, 'No supergraph is loaded yet');
      const { caller } = input;
      if (caller.connection.active >= options.limits.perConnection) {
        return endedWith(
          SubscriptionCode.SUBSCRIPTION_LIMIT,
          `At most ${options.limits.perConnection} subscriptions per connection`,
        );
      }
      const callerLimitKey = limitKey(caller);
      if ((perPrincipal.get(callerLimitKey) ?? 0) >= options.limits.perPrincipal) {
        return endedWith(
          SubscriptionCode.SUBSCRIPTION_LIMIT,
          `At most ${options.limits.perPrincipal} subscriptions per caller`,
        );
      }
      let plan: SubscriptionPlan;
      try {
        plan = current.plan(input.document, input.operationName);
      } catch (error) {
        return endedWith(
          SubscriptionCode.NOT_A_SUBSCRIPTION,
          error instanceof Error ? error.message : 'The operation cannot be planned',
        );
      }
      const query = print(input.document);
      const pKey = principalKey(caller.principal);
      const key = createHash('sha256')
        .update(
          `${current.version}\n${pKey}\n${input.operationName ?? ''}\n${query}\n${JSON.stringify(input.variables)}`,
        )
        .digest('base64url');
      let group = groups.get(key);
      if (!group) {
        group = {
          key,
          graph: current,
          plan,
          document: input.document,
          query,
          operationName: input.operationName,
          variables: input.variables,
          removals: input.removals,
          principal: caller.principal,
          principalKey: pKey,
          listeners: new Set(),
          chain: Promise.resolve(),
          ended: false,
        };
        groups.set(key, group);
      }
      const owner = group;
      caller.connection.active += 1;
      perPrincipal.set(callerLimitKey, (perPrincipal.get(callerLimitKey) ?? 0) + 1);
      let released = false;
      const listener: Listener = {
        caller,
        queue: new PushQueue<ExecutionResult>({
          capacity: options.limits.bufferedEvents,
          onOverflow: () =>
            endedWith(SubscriptionCode.SLOW_CONSUMER, 'Too many unread events: subscribe again'),
          onReturn: () => {
            if (released) return;
            released = true;
            caller.connection.active -= 1;
            const count = (perPrincipal.get(callerLimitKey) ?? 1) - 1;
            if (count <= 0) perPrincipal.delete(callerLimitKey);
            else perPrincipal.set(callerLimitKey, count);
            owner.listeners.delete(listener);
            // The last client left: close upstream.
            if (owner.listeners.size === 0) endGroup(owner, undefined);
          },
        }),
      };
      owner.listeners.add(listener);
      if (!owner.unsubscribe) startUpstream(owner);
      return listener.queue;
    },

    stats: () => ({
      groups: groups.size,
      upstreamConnections: clients.size,
      subscribers: [...groups.values()].reduce((sum, group) => sum + group.listeners.size, 0),
    }),

    close() {
      closed = true;
      for (const group of [...groups.values()]) {
        endGroup(group, endedWith(SubscriptionCode.SHUTTING_DOWN, 'The gateway is shutting down'));
      }
    },
  };
}

export type SubscriptionEngine = ReturnType<typeof createSubscriptionEngine>;
