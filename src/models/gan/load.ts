// A trained generator from a run folder or checkpoint: the recipe's network, named classes
// and, for clusters, how often each is drawn, from what the checkpoint kept.
import { loadFromRun } from '../../train/index.js';
import { canonicalConfig } from '../options.js';
import type { AnyGenerator } from './model.js';
import { RECIPES } from './recipes.js';
import { labelledClasses } from './data.js';
import { GAN_OPTIONS, RESUME_DEFAULTS, withRecipe, type GanTrainConfig } from './config.js';

/** A trained generator from a run folder or checkpoint (its averaged weights, if it kept them). */
export function loadGenerator(source: string): AnyGenerator {
  const g = loadFromRun<AnyGenerator, GanTrainConfig>(source, (ck, file) => {
    const shape = ck.extra.imageShape as number[] | undefined;
    if (!Array.isArray(shape) || !ck.tensors.has('module.generator.fc.weight'))
      throw new Error(`${file} is not a GAN checkpoint`);
    const cfg = withRecipe(canonicalConfig(GAN_OPTIONS, { ...RESUME_DEFAULTS, ...ck.config }));
    // Whether the generator takes a label is in its first layer's width (the latent point and
    // a one-hot label), not in the config: older runs recorded conditional: true without labels.
    const labelWidth = ck.tensors.get('module.generator.fc.weight')!.size(1) - cfg.latent;
    // The names the checkpoint kept; a run saved before it kept them names them from its data.
    const kept = ck.extra.classNames;
    const classNames =
      labelWidth === 0
        ? []
        : Array.isArray(kept) && kept.length === labelWidth && kept.every((n) => typeof n === 'string')
          ? (kept as string[])
          : (labelledClasses(cfg.data) ?? []);
    if (classNames.length !== labelWidth)
      throw new Error(
        `cannot name the classes of ${file}: its generator draws ${labelWidth}, and its data ${cfg.data} now has ${classNames.length}`,
      );
    const weights = ck.extra.classWeights;
    const model = {
      ...(Array.isArray(weights) &&
      weights.length === labelWidth &&
      weights.every((w) => typeof w === 'number' && w >= 0)
        ? { classWeights: weights as number[] }
        : {}),
      latent: cfg.latent,
      channels: shape[0],
      height: shape[1],
      width: shape[2],
      dropout: 0,
      gFilters: cfg.gFilters,
      dFilters: cfg.dFilters,
      classNames,
    };
    const g = RECIPES[cfg.recipe].generator(model) as AnyGenerator;
    // Samples come from the averaged weights when the run kept them.
    const averaged = ck.tensors.has('module.average.fc.weight');
    return { value: g, modules: { [averaged ? 'average' : 'generator']: g } };
  });
  g.eval();
  return g;
}
