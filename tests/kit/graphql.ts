export interface GraphQLResponse<TData = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: Array<{ message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }>;
  };
}

/** A GraphQL client as third parties use one: plain HTTP POST with JSON. */
export function graphqlClient(endpoint: string) {
  return async function request<TData = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<GraphQLResponse<TData>> {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: GraphQLResponse<TData>['body'];
    try {
      body = JSON.parse(text) as GraphQLResponse<TData>['body'];
    } catch {
      throw new Error(`Not a GraphQL response (HTTP ${response.status}): ${text.slice(0, 500)}`);
    }
    return { status: response.status, headers: response.headers, body };
  };
}

export type GraphQLRequest = ReturnType<typeof graphqlClient>;

/** The error codes of a response, in order. */
export function errorCodes(response: GraphQLResponse<unknown>): unknown[] {
  return (response.body.errors ?? []).map((error) => error.extensions?.code);
}
