// The package as a user gets it: `npm pack` of the built tree, installed into an empty project,
// its addon built by the package's own install script, a TypeScript program that imports every
// system from 'loom' type-checked against the shipped declarations, then run: a tiny text
// training and a generation. The install reads the npm cache that `npm ci` filled, through a
// lockfile made from this project's (the same versions, no registry needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

// An npm run (`npm test`) passes its own settings down as npm_* variables (the project's
// prefix among them); the installs here are a user's, in a folder of their own. A user's
// install builds the default addon into build/, whichever addon this suite runs on.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      (!/^npm_/i.test(k) || /^npm_config_(cache|registry|userconfig)$/i.test(k)) &&
      !/^LOOM_(ADDON_DIR|LIBTORCH)$/.test(k),
  ),
);

function run(cmd: string, args: string[], cwd: string, timeout = 240_000): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
      { cause: e },
    );
  }
}

/**
 * The lockfile of a project whose one dependency is the tarball: this project's locked
 * dependencies, dev ones left out.
 */
function lockFor(tarball: string): object {
  const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean } & Record<string, unknown>>;
  };
  const root = lock.packages[''] as Record<string, unknown>;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { loom: `file:${tarball}` } },
    'node_modules/loom': {
      version: root.version,
      resolved: `file:${tarball}`,
      hasInstallScript: true,
      license: root.license,
      dependencies: root.dependencies,
      bin: root.bin,
      engines: root.engines,
    },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k.startsWith('node_modules/') && !v.dev) packages[k] = v;
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

// A user's program: every namespace and helper from the package root, their option and result
// types, the subpath exports; then a training and a generation.
const PROGRAM = `import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  LoomError, dream, gan, imageGrid, loadImage, nn, optim, style, text, torch, vae, writeImage,
  type BackboneOptions, type Control, type ImageInput, type RunPlace,
} from 'loom';
import * as T from 'loom/torch';
import * as layers from 'loom/nn';
import * as optimizers from 'loom/optim';

const api = {
  'text.train': text.train, 'text.load': text.load,
  'vae.train': vae.train, 'vae.load': vae.load,
  'gan.train': gan.train, 'gan.load': gan.load,
  'style.transfer': style.transfer, 'style.trainFast': style.trainFast, 'style.loadFast': style.loadFast,
  'dream.run': dream.run,
  imageGrid, loadImage, writeImage,
};
const where: RunPlace = { out: path.resolve('run') };
const control: Control<text.Progress> = { onProgress: (p) => void p.type };
const backbone: BackboneOptions = {};
const photo: ImageInput = 'photo.jpg';
const vaeOptions: vae.TrainOptions = { ...where, epochs: 1, latent: 2 };
const ganOptions: gan.TrainOptions = { ...where, steps: 1 };
const dreamOptions: dream.DreamOptions = { ...backbone };
const styleOptions: style.TransferOptions = { ...backbone };
const x: torch.Tensor = T.zeros([2, 3]);
void [control, photo, vaeOptions, ganOptions, dreamOptions, styleOptions, nn, optim, layers, optimizers];

writeFileSync('corpus.txt', 'the quick brown fox jumps over the lazy dog. '.repeat(30));
const trained: text.TrainResult = await text.train({
  ...where, corpus: 'corpus.txt', model: 'lstm', units: 8, maxlen: 16, batch: 16, steps: 6, sampleLength: 10, valFraction: 0.1,
});
const model: text.TextModel = await text.load(trained.dir);
const generated: text.Generated = await model.generate({ prime: 'the ', length: 20, temperature: 0.5, seed: 1 });
model.dispose();
x.dispose();
let sentence = '';
try {
  await text.load(path.resolve('nowhere'));
} catch (e) {
  if (e instanceof LoomError) sentence = e.message;
}
const missing = Object.entries(api).filter(([, f]) => typeof f !== 'function').map(([k]) => k);
console.log(JSON.stringify({ steps: trained.steps, heldOutBpc: trained.heldOutBpc, text: generated.texts[0], missing, sentence }));
`;

test('npm pack: the tarball holds what a user needs, installs into an empty project, type-checks and trains', async (t) => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'loom-pack-'));
  let last = Date.now();
  const lap = (what: string) => {
    t.diagnostic(`${what}: ${((Date.now() - last) / 1000).toFixed(1)} s`);
    last = Date.now();
  };
  try {
    // --ignore-scripts: `prepare` would build again; the tree was built before the tests.
    const [packed] = JSON.parse(
      run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], repoRoot),
    ) as {
      filename: string;
      size: number;
      files: { path: string }[];
    }[];
    const files = packed.files.map((f) => f.path);
    for (const f of [
      'package.json',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/src/studio/page/index.html',
      'native/loom.cc',
      'scripts/build-addon.mjs',
      'scripts/find-libtorch.mjs',
    ])
      assert.ok(files.includes(f), `the tarball holds ${f}`);
    const junk = files.filter((f) => /^(test|bench|docs|experiments|examples|src|dist\/(?!src\/))\/?|\.map$/.test(f));
    assert.deepEqual(junk, [], 'no tests, benchmarks, docs, TypeScript sources or source maps in the tarball');
    assert.ok(packed.size < 1_000_000, `the tarball is ${packed.size} bytes`);
    lap(`pack (${packed.size} bytes, ${files.length} files)`);

    const app = path.join(tmp, 'app');
    mkdirSync(app);
    const tarball = path.join('..', packed.filename);
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { loom: `file:${tarball}` } }),
    );
    writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify(lockFor(tarball)));
    // Dependencies without their scripts (npm asks for them to be allowed), then loom's own
    // install script through npm, as an install runs it: it builds the addon from native/.
    run(NPM, ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], app);
    lap('install');
    const installed = path.join(app, 'node_modules', 'loom');
    assert.ok(!existsSync(path.join(installed, 'build', 'loom.node')), 'the tarball ships no prebuilt addon');
    run(NPM, ['rebuild', 'loom', '--foreground-scripts'], app, 400_000);
    assert.ok(existsSync(path.join(installed, 'build', 'loom.node')), 'the install script built the addon');
    lap('addon build');

    writeFileSync(path.join(app, 'main.ts'), PROGRAM);
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          outDir: 'out',
          typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['main.ts'],
      }),
    );
    run(
      process.execPath,
      [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      app,
    );
    lap('type-check');

    const out = JSON.parse(run(process.execPath, [path.join('out', 'main.js')], app)) as {
      steps: number;
      heldOutBpc: number | null;
      text: string;
      missing: string[];
      sentence: string;
    };
    assert.equal(out.steps, 6);
    assert.ok(out.heldOutBpc !== null && out.heldOutBpc > 0, `held-out bits per character ${out.heldOutBpc}`);
    assert.equal(out.text.length, 20);
    assert.deepEqual(out.missing, []);
    assert.ok(out.sentence.length > 0, 'a bad path is a LoomError with a sentence');
    lap('train and generate');

    // The CLI the package names in "bin", on the addon the install built.
    const info = run(path.join(app, 'node_modules', '.bin', 'loom'), ['info'], app);
    assert.match(info, new RegExp(`addon ${installed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    lap('loom info');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    lap('clean up');
  }
});
