// What the stack (the only code that starts several services) may use of this subgraph.
export { learningEnvShape, parseLearningEnv, type LearningEnv } from './env.js';
export { startLearning, type LearningService } from './service.js';
export { seedLearningDemo } from './seed.js';
