import type { TraceContext } from '@symbeon/kernel';

/** Per-request facts the gateway carries to its data sources. (The principal arrives with the auth issue.) */
export interface GatewayContext {
  requestId: string;
  trace: TraceContext;
  clientIp: string;
}
