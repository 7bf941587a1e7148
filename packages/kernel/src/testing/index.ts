export * from './services.js';
export * from './database.js';
export * from './redis.js';
// tests/kit may import only this entry point: the dev keys are the same ones @symbeon/kernel/anvil exports.
export { anvilDevAccounts, type AnvilDevAccount } from '../anvil.js';
