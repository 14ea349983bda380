export * from './losses.js';
export * from './gatys.js';
export * from './fast.js';
export * from './fast-net.js';
export * from './fast-data.js';
export * from './fast-loss.js';
export * from './colour-match.js';
export * from './options.js';
