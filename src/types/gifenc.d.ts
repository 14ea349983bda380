// The parts of gifenc (MIT, no types of its own) that Loom uses.
declare module 'gifenc' {
  export type Palette = number[][];
  export interface FrameOptions {
    palette?: Palette;
    first?: boolean;
    delay?: number;
    repeat?: number;
  }
  export interface Encoder {
    writeHeader(): void;
    writeFrame(index: Uint8Array, width: number, height: number, opts?: FrameOptions): void;
    finish(): void;
    bytesView(): Uint8Array;
    reset(): void;
  }
  // A CommonJS module: Node's ESM sees its exports only as the default export.
  const gifenc: {
    GIFEncoder(opts?: { auto?: boolean; initialCapacity?: number }): Encoder;
    quantize(rgba: Uint8Array, maxColors: number, opts?: { format?: string }): Palette;
    applyPalette(rgba: Uint8Array, palette: Palette, format?: string): Uint8Array;
  };
  export default gifenc;
}
