export * from './losses.js';
export * from './gatys.js';
