export * from './vocab.js';
export * from './model.js';
export * from './gpt.js';
export * from './sampling.js';
export * from './generate.js';
export * from './train.js';
export * from './curves.js';
