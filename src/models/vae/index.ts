export * from './model.js';
export * from './latent.js';
export * from './data.js';
export * from './train.js';
export * from './explore.js';
