export * from './services.js';
export * from './database.js';
export * from './redis.js';
