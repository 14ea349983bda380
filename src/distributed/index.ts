export * from './env.js';
export * from './group.js';
