// What the stack (the only code that starts several services) may use of this subgraph.
export { certificationEnvShape, parseCertificationEnv, type CertificationEnv } from './env.js';
export { startCertification, type CertificationService } from './service.js';
export { seedCertificationDemo } from './seed.js';
