export * from './optimizer.js';
export * from './optimizers.js';
export * from './lbfgs.js';
export * as schedules from './schedules.js';
