#!/usr/bin/env node
// The `loom` command: `loom <system> <verb> [options]`. Thin over the library.
import { COMMON, parseOptions } from './args.js';
import { UserError } from './errors.js';
import { watchParent } from './parent.js';

const USAGE = `usage: loom <command> [options]

commands:
  demo              every system briefly on built-in data; a gallery with index.html
  text train        train a character-level LSTM on a text (builtin:sotu by default)
  text generate     sample text from a trained model, with temperature, top-k, top-p
  dream <image>     DeepDream a photo (builtin:dog, builtin:scream, ... or a file)
  style <content> <style>
                    neural style transfer (Gatys, L-BFGS); style train|apply: fast style nets
  weights import|list
                    import pretrained backbones (nsfwjs, torchvision .pth, Keras .h5)
  vae train         train a convolutional VAE (MNIST by default)
  vae grid|sample|interpolate|concept|scatter|eval
                    explore a trained VAE's latent space
  gan train         train the seed's DCGAN (MNIST by default)
  gan sample|walk   sample a grid, or an animated walk, from a trained GAN
  export <run>      write a trained run as ONNX (fast style, VAE, GAN generator, char-LSTM step)
  launch -- <cmd>    run a training command data-parallel on several processes (c10d, Gloo)
  studio            a local web page to train, watch and explore every system
  info [--json]     Loom's version, the libtorch in use, threads, BLAS and devices

Run \`loom <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<void> {
  watchParent();
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return;
  }
  switch (cmd) {
    case 'info': {
      const { values, positionals } = parseOptions(rest, { json: COMMON.json, help: COMMON.help });
      if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'`);
      if (values.help) {
        console.log(
          "usage: loom info [--json]\n\nPrints Loom's version, the libtorch found (version, path), threads, BLAS in use and devices.",
        );
        return;
      }
      await import('../torch/index.js');
      const { info, formatInfo } = await import('./info.js');
      const i = info();
      console.log(values.json ? JSON.stringify(i) : formatInfo(i));
      return;
    }
    case 'text': {
      const { textCommand } = await import('./text.js');
      return textCommand(rest);
    }
    case 'dream': {
      const { dreamCommand } = await import('./dream.js');
      return dreamCommand(rest);
    }
    case 'style': {
      const { styleCommand } = await import('./style.js');
      return styleCommand(rest);
    }
    case 'weights': {
      const { weightsCommand } = await import('./weights.js');
      return weightsCommand(rest);
    }
    case 'vae': {
      const { vaeCommand } = await import('./vae.js');
      return vaeCommand(rest);
    }
    case 'gan': {
      const { ganCommand } = await import('./gan.js');
      return ganCommand(rest);
    }
    case 'export': {
      const { exportCommand } = await import('./export.js');
      return exportCommand(rest);
    }
    case 'launch': {
      const { launchCommand } = await import('./launch.js');
      return launchCommand(rest);
    }
    case 'studio': {
      const { studioCommand } = await import('./studio.js');
      return studioCommand(rest);
    }
    case 'demo': {
      const { demoCommand } = await import('./demo.js');
      return demoCommand(rest);
    }
    default:
      throw new UserError(`unknown command '${cmd}'; run \`loom --help\` for the list`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Bad input is one sentence and exit code 2: the library throws plain Errors (and the CLI
  // UserErrors) for it. TypeError and the like are Loom's own bugs: show where.
  const err = e instanceof Error ? e : new Error(String(e));
  if (err instanceof UserError || err.constructor === Error) {
    console.error(`loom: ${err.message}`);
    process.exit(2);
  }
  console.error(`loom: internal error: ${err.stack ?? err.message}`);
  process.exit(1);
});
