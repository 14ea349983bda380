export * from './optimizer.js';
export * from './optimizers.js';
export * from './lbfgs.js';
