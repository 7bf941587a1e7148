// What the stack (the only code that starts several services) may use of this subgraph.
export { identityEnvShape, parseIdentityEnv, type IdentityEnv } from './env.js';
export { startIdentity, type IdentityService } from './service.js';
export { seedIdentityDemo } from './seed.js';
// For the gateway's team to mirror: the revocation marker identity writes into the shared `auth` cache.
export { isSessionRevoked, sessionRevokedKey } from './modules/sessions/sessions-manager.js';
export { JWKS_PATH } from './modules/tokens/jwks-route.js';
