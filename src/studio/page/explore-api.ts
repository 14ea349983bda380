// What the page asks its model worker (explore-worker.ts) and what it answers.

/** RGBA pixels, as canvases hold them. */
export interface Frame {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface GenerateRequest {
  op: 'generate';
  id: number;
  run: string;
  prime: string;
  length: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

export type ExploreRequest =
  | GenerateRequest
  /** Stops generation `of` after the piece it is sampling. */
  | { op: 'cancel'; id: number; of: number }
  /** The VAE's decoder at the latent point z. */
  | { op: 'vae'; id: number; run: string; z: number[] }
  /** The GAN's generator at the point a fraction t of the way from seed A's latent point to seed B's. */
  | { op: 'gan'; id: number; run: string; seeds: [number, number]; t: number; label: number }
  /** A fast style net over one picture. */
  | { op: 'style'; id: number; run: string; frame: Frame };

export type ExploreReply =
  | { id: number; error: string }
  /** A piece of generated text; `done` after the last. */
  | { id: number; text: string }
  | { id: number; done: true }
  /** A picture; a GAN's class names (none for an unconditional one), a style net's time in ms. */
  | { id: number; frame: Frame; classes?: string[]; ms?: number };
