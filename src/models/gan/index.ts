export * from './model.js';
export * from './train.js';
