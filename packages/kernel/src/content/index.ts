// The content store's adapters, for code that needs one directly (`@symbeon/kernel/content`). Services get
// one through createContentStore (adapters.ts), which loads only the adapter the profile uses.
export * from './content-store.js';
export * from './embedded-content-store.js';
export * from './kubo-content-store.js';
export * from './kubo-import.js';
