export * from './dream.js';
