export * from './losses.js';
export * from './gatys.js';
export * from './fast.js';
