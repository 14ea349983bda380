// A system is one folder and one registry line: a toy system registered here, with nothing
// else edited, is in `loom --help`, has the shared train verb (help from its table, checks,
// --json), is in the studio's /api/systems, and in the export's list of what it exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commands, usage } from '../src/cli/commands.js';
import { trainCommand } from '../src/cli/train.js';
import { exportRun, runKind } from '../src/export/index.js';
import { TEXT_DEFAULTS, trainText } from '../src/models/text/index.js';
import { registerSystem, systemNamed } from '../src/systems/registry.js';
import type { Exported } from '../src/export/onnx-graph.js';
import type { System, Trainer } from '../src/systems/system.js';
import { startStudio } from '../src/studio/server.js';
import { editMetadata } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'loom-registry-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TOY_OPTIONS = {
  steps: { type: 'int', default: 3, min: 1, help: 'toy steps', studio: true },
  shade: { type: 'choice', default: 'grey', choices: ['grey', 'blue'], help: 'the toy colour', studio: true },
} as const;

type ToyEvent = { type: 'step'; step: number };
const trained: { steps: number; shade: string }[] = [];
const toyTrainer: Trainer<typeof TOY_OPTIONS, ToyEvent, { steps: number }> = {
  options: TOY_OPTIONS,
  usage: 'toy train [options]',
  about: () => 'Trains a toy of the tests.',
  out: path.join(dir, 'runs', 'toy'),
  dataHint: 'the toy takes no data',
  train: async (cfg, _out, _mode, _control, report) => {
    trained.push({ steps: cfg.steps, shade: cfg.shade });
    for (let step = 1; step <= cfg.steps; step++) report({ type: 'step', step });
    return { steps: cfg.steps };
  },
  show: (e) => ({ step: e.step, text: `toy step ${e.step}` }),
  json: (e) => ({ step: e.step }),
  finish: (r) => `done: ${r.steps} toy steps`,
};
const exported: (string | null)[] = [];
const toy: System = {
  name: 'toy',
  title: 'Toy',
  usage: [['toy train', 'train a toy of the tests']],
  cli: (args) => (args[0] === 'train' ? trainCommand(toy, args.slice(1)) : Promise.resolve()),
  options: { 'toy train': TOY_OPTIONS },
  trainer: toyTrainer,
  jobs: { toy: { verb: ['toy', 'train'], out: 'folder', options: { steps: 'int', shade: 'word' } } },
  export: {
    what: 'toy',
    graph: (source, part) => {
      exported.push(part);
      const bytes = Buffer.from(`toy of ${path.basename(source)}`);
      return { graph: { encode: () => bytes }, metadata: { 'loom.kind': 'toy' }, doc: 'a toy' } as unknown as Exported;
    },
  },
};

/** What `run` prints with console.log, line by line. */
async function printed(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await run();
  } finally {
    console.log = log;
  }
  return lines.join('\n').split('\n');
}

test('a registered system is a command: in loom --help, with the shared train verb over its table', async () => {
  assert.ok(!usage().includes('toy train'));
  registerSystem(toy);
  assert.throws(() => registerSystem(toy), /there is already a system named toy/);
  assert.throws(() => registerSystem({ ...toy, name: 'Bad Name' }), /lower-case letters/);
  assert.equal(systemNamed('toy'), toy);
  assert.match(usage(), /\n {2}toy train {9}train a toy of the tests\n/);
  const command = commands().find((c) => c.name === 'toy');
  assert.ok(command);

  const help = await printed(() => command.run(['train', '--help']));
  assert.equal(help[0], 'usage: loom toy train [options]');
  assert.ok(
    help.some((l) => /^ {2}--steps N +toy steps \(default 3\)$/.test(l)),
    help.join('\n'),
  );
  assert.ok(
    help.some((l) => /^ {2}--shade TEXT +the toy colour: grey, blue \(default grey\)$/.test(l)),
    help.join('\n'),
  );

  const json = await printed(() => command.run(['train', '--steps', '2', '--shade', 'blue', '--json']));
  assert.deepEqual(json, ['{"step":1}', '{"step":2}']);
  assert.deepEqual(trained.at(-1), { steps: 2, shade: 'blue' });
  await assert.rejects(command.run(['train', '--shade', 'red']), /^Error: --shade must be grey or blue, got red$/);
  await assert.rejects(command.run(['train', 'stray']), /unexpected argument 'stray'; the toy takes no data/);
  assert.equal(trained.length, 1);
});

test("a registered system is in the studio's /api/systems, its job's options from its table", async () => {
  const root = path.join(dir, 'studio');
  const studio = await startStudio({ root, port: 0 });
  try {
    const r = await fetch(new URL('/api/systems', studio.url), {
      headers: { authorization: `Bearer ${studio.token}` },
    });
    assert.equal(r.status, 200);
    const systems = (await r.json()) as {
      name: string;
      jobs: { name: string; options: Record<string, unknown>[] }[];
    }[];
    const names = systems.map((s) => s.name);
    assert.deepEqual(names.slice(0, 5), ['text', 'dream', 'style', 'vae', 'gan']);
    const job = systems.find((s) => s.name === 'toy')?.jobs[0];
    assert.equal(job?.name, 'toy');
    assert.deepEqual(job.options, [
      { name: 'steps', kind: 'int', help: 'toy steps', type: 'int', default: 3, min: 1 },
      {
        name: 'shade',
        kind: 'word',
        help: 'the toy colour',
        type: 'choice',
        default: 'grey',
        choices: ['grey', 'blue'],
      },
    ]);
  } finally {
    await studio.close();
  }
});

test("a registered system's runs export through it, and the refusal lists it", async () => {
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
  const run = path.join(dir, 'run');
  const config = { ...TEXT_DEFAULTS, corpus, model: 'lstm', maxlen: 10, units: 8, batch: 8, steps: 1 } as const;
  await trainText({ ...config, sampleLength: 0 }, run, {});
  const file = path.join(run, 'checkpoint.safetensors');
  editMetadata(file, (m) => {
    m.config = JSON.stringify({ ...JSON.parse(m.config), system: 'toy' });
  });
  assert.equal(runKind(file), 'toy');
  const e = exportRun(file);
  assert.equal(e.kind, 'toy');
  assert.deepEqual(exported, [null]);
  assert.throws(() => exportRun(file, 'encoder'), /^Error: --part is for VAE runs; .* is a toy run$/);

  const json = path.join(run, 'config.json');
  writeFileSync(json, JSON.stringify({ ...JSON.parse(readFileSync(json, 'utf8')), system: 'dream' }));
  editMetadata(file, (m) => {
    const c = JSON.parse(m.config);
    delete c.system;
    m.config = JSON.stringify(c);
  });
  assert.throws(() => runKind(run), /is not a run Loom can export \(a text, fast style, VAE, GAN or toy run\)$/);
});
