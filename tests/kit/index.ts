export * from './graphql.js';
export * from './processes.js';
export * from './stack.js';
export * from './proxy.js';
export * from './auth.js';
export * from './documents.js';
export * from './stripe-fake.js';
export * from './paypal-fake.js';
