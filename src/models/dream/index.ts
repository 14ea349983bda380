export * from './dream.js';
export * from './layers.js';
export * from './options.js';
