// What the stack may use of the gateway.
export { gatewayEnvShape, parseGatewayEnv, type GatewayEnv } from './env.js';
export { startGateway, type Gateway } from './gateway.js';
