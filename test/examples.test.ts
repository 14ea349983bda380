// Each script of examples/ runs as a user runs it, through the public API only, on small data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'loom-examples-'));

/** A folder of 24x24 grey images, dark and light: data that trains in seconds. */
async function tinyImages(): Promise<string> {
  const data = path.join(dir, 'images');
  mkdirSync(data);
  for (let i = 0; i < 32; i++)
    await sharp(Buffer.alloc(24 * 24, i % 2 ? 230 : 25), { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(data, `${i}.png`));
  return data;
}

function example(name: string, ...args: string[]): string {
  const out = path.join(dir, name);
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'examples', `${name}.js`), out, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  return out;
}

test('the examples import only the public API', () => {
  for (const name of ['text', 'vae', 'gan', 'dream', 'style']) {
    const source = readFileSync(path.join(repoRoot, 'examples', `${name}.ts`), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    assert.deepEqual(
      imports.filter((i) => !i.startsWith('node:')),
      ['../src/index.js'],
      name,
    );
  }
});

test('the VAE and GAN examples train, then draw', async () => {
  const data = await tinyImages();
  const vae = example('vae', data);
  for (const f of ['grid.png', 'samples.png']) assert.ok(existsSync(path.join(vae, f)), f);
  const gan = example('gan', data);
  assert.ok(existsSync(path.join(gan, 'all.png')));
  assert.ok(existsSync(path.join(gan, 'run', 'checkpoint.safetensors')));
});

test('the dream and style examples write their pictures', () => {
  const d = example('dream');
  assert.ok(existsSync(path.join(d, 'dream.png')));
  assert.ok(existsSync(path.join(example('style'), 'styled.png')));
});
