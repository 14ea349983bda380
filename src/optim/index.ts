export * from './optimizer.js';
export * from './optimizers.js';
