export * from './dream.js';
export * from './objective.js';
export * from './ascent.js';
export * from './animation.js';
export * from './layers.js';
export * from './options.js';
