export * from './model.js';
export * from './latent.js';
export * from './data.js';
export * from './config.js';
export * from './evaluate.js';
export * from './pictures.js';
export * from './train.js';
export * from './explore.js';
