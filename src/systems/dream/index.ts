// Dream: DeepDream, gradient ascent on an image to excite chosen layers of a pretrained network.
import type { Tensor } from '../../torch/index.js';
import { DREAM_DEFAULTS, dream, type DreamConfig, type DreamStep } from '../../models/dream/index.js';
import { backboneOf, type BackboneOptions } from '../backbone.js';
import type { Control } from '../common.js';
import { withSentences } from '../errors.js';
import { imageOf, type ImageInput } from '../images.js';

export type { DreamConfig, DreamStep };

/** The settings of `loom dream`, each optional (its default), and the backbone. */
export type DreamOptions = Partial<DreamConfig> & BackboneOptions;

export type DreamProgress = { type: 'step'; step: DreamStep };

/**
 * Dreams the image; resolves with the result (RGB in [0, 1], [1, 3, H, W], the caller's to
 * dispose). An abort resolves with the image so far.
 */
export async function run(
  image: ImageInput,
  options: DreamOptions = {},
  control: Control<DreamProgress> = {},
): Promise<Tensor> {
  return withSentences(async () => {
    const cfg: DreamConfig = { ...DREAM_DEFAULTS };
    for (const [k, v] of Object.entries(options)) if (k in cfg && v !== undefined) Object.assign(cfg, { [k]: v });
    const { image: rgb, made } = await imageOf(image);
    try {
      const backbone = backboneOf(options);
      try {
        return await dream(backbone, rgb, cfg, {
          signal: control.signal,
          onNote: control.onNote,
          onStep: (step) => control.onProgress?.({ type: 'step', step }),
        });
      } finally {
        backbone.net.dispose();
      }
    } finally {
      if (made) rgb.dispose();
    }
  });
}
