export * from './model.js';
export * from './train.js';
export * from './quality.js';
