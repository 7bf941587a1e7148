import type { Principal, TraceContext } from '@symbeon/kernel';

/** Per-request facts the gateway carries to its data sources. */
export interface GatewayContext {
  requestId: string;
  trace: TraceContext;
  clientIp: string;
  /** Who is calling, established from the request's credentials before Apollo ran; sent to subgraphs signed. */
  principal: Principal;
}
