// Loom's library entry: the tensor engine, layers and optimizers, and each system's API
// (train, load, generate or sample), async, stoppable with an AbortSignal and silent.
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as text from './systems/text/index.js';
export * as vae from './systems/vae/index.js';
export * as gan from './systems/gan/index.js';
export * as style from './systems/style/index.js';
export * as dream from './systems/dream/index.js';
export { LoomError } from './systems/errors.js';
export { exportOnnx, type Exported } from './systems/onnx.js';
// The registry of systems, for front ends and plugins: what each system is and offers.
export { SYSTEMS, registerSystem, systemNamed } from './systems/registry.js';
export type { System, Trainer, StudioJob, SystemExport } from './systems/system.js';
export type { DemoPart, DemoContext, DemoEntry } from './systems/demo.js';
export type { Control, RunPlace } from './systems/common.js';
export type { BackboneOptions } from './systems/backbone.js';
export type { ImageInput } from './systems/images.js';
// Reading and writing the images the systems take and give.
export { imageGrid, writeImage } from './io/images.js';
export { loadImage } from './systems/images.js';
