// What the stack (the only code that starts several services) may use of this subgraph.
export { paymentsEnvShape, parsePaymentsEnv, type PaymentsEnv } from './env.js';
export { startPayments, type PaymentsService } from './service.js';
