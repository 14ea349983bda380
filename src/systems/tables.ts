// Every option table by the command it configures: the guides' option tables are generated
// from these (scripts/options-docs.mjs), so that the docs cannot drift from the code.
import type { OptionTable } from '../models/options.js';
import { TEXT_OPTIONS } from '../models/text/config.js';
import { VAE_OPTIONS } from '../models/vae/train.js';
import { GAN_OPTIONS } from '../models/gan/config.js';
import { DREAM_OPTIONS } from '../models/dream/options.js';
import { STYLE_OPTIONS } from '../models/style/options.js';
import { FAST_OPTIONS } from '../models/style/fast.js';

export const OPTION_TABLES: Record<string, { guide: string; table: OptionTable }> = {
  'text train': { guide: 'text', table: TEXT_OPTIONS },
  'vae train': { guide: 'vae', table: VAE_OPTIONS },
  'gan train': { guide: 'gan', table: GAN_OPTIONS },
  'style train': { guide: 'style', table: FAST_OPTIONS },
  dream: { guide: 'dream', table: DREAM_OPTIONS },
  style: { guide: 'style', table: STYLE_OPTIONS },
};
