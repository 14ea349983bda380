// `loom weights import|list`: pretrained weights converted once into the cache folder.
import { cacheFolder, importWeights, listCache } from '../vision/weights.js';
import { COMMON, parseCommand, type CommandHelp, type OptSpecs } from './args.js';
import { UserError } from './errors.js';

const IMPORT: OptSpecs = {
  as: { type: 'string', help: 'inception or vgg19 (default: guessed from the file)' },
  help: COMMON.help,
};

const IMPORT_HELP: CommandHelp = {
  usage: 'loom weights import <file|folder|nsfwjs> [--as inception|vgg19]',
  about: 'Converts pretrained weights once into the cache folder (LOOM_CACHE, default ~/.cache/loom/weights).',
  options: IMPORT,
};

export async function weightsCommand(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb === 'list') {
    const all = listCache();
    if (!all.some((w) => w.info))
      console.log(`no imported weights in ${cacheFolder()} (the built-in InceptionV3 is imported on first use)`);
    // Backbones first; then what else Loom keeps there (the GAN's judges), by what it is.
    for (const w of [...all.filter((x) => x.info), ...all.filter((x) => !x.info)])
      console.log(
        `${(w.info?.arch ?? 'other').padEnd(10)} ${w.about.padEnd(40)} ${(w.bytes / 1e6).toFixed(1)} MB  ${w.file}`,
      );
    return;
  }
  if (verb === 'import') {
    const parsed = parseCommand(rest, IMPORT_HELP);
    if (!parsed) return;
    const { values: o, positionals } = parsed;
    if (positionals.length !== 1) throw new UserError('give one weights file, a TF.js model folder, or nsfwjs');
    if (o.as !== undefined && o.as !== 'inception' && o.as !== 'vgg19')
      throw new UserError(`--as must be inception or vgg19, got ${o.as}`);
    const file = importWeights(positionals[0], { as: o.as });
    console.log(`imported ${positionals[0]} into ${file}`);
    return;
  }
  if (verb === undefined || verb === '--help' || verb === '-h') {
    console.log(
      'usage: loom weights <import|list>\n\n  import <file|folder|nsfwjs> [--as inception|vgg19]   convert pretrained weights into the cache\n  list                                                  imported weights',
    );
    return;
  }
  throw new UserError(`unknown weights command '${verb}'; use import or list`);
}
