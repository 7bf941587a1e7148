// What the stack (the only code that starts several services) may use of this subgraph.
export { identityEnvShape, parseIdentityEnv, type IdentityEnv } from './env.js';
export { startIdentity, type IdentityService } from './service.js';
export { seedIdentityDemo } from './seed.js';
