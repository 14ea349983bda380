export * from './training.js';
export * from './run-options.js';
export * from './pacing.js';
export * from './load.js';
export * from './precision.js';
