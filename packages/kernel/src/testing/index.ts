export * from './services.js';
export * from './database.js';
