// Loom's library entry: the tensor engine, layers and optimizers.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
