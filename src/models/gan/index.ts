export * from './model.js';
export * from './config.js';
export * from './train.js';
export * from './recipes.js';
export * from './onnx.js';
export * from './quality.js';
export * from './data.js';
export * from './monitor.js';
