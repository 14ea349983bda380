// The clustered recipe, the default for unlabelled data: k-means clusters of the images, the
// networks conditioned on them, samples drawn as often as the data holds each cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import {
  GAN_DEFAULTS,
  classColumns,
  classIndex,
  clusterCount,
  cyclingLabels,
  kMeans,
  loadGenerator,
  recipeOf,
  trainGan,
  withRecipe,
  type GanTrainConfig,
} from '../src/models/gan/index.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { repoRoot, tinyGan } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-gan-clusters-'));
const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** n images [n, 1, 2, 2] around `centres` (one per group, in turn), each pixel off by at most 0.1. */
function blobs(n: number, centres: number[][]): { images: T.Tensor; groups: number[] } {
  const groups = Array.from({ length: n }, (_, i) => i % centres.length);
  const images = T.tidy(() =>
    T.tensor(groups.flatMap((g) => centres[g]))
      .reshape([n, 1, 2, 2])
      .add(T.rand([n, 1, 2, 2]).sub(0.5).mul(0.2)),
  );
  return { images, groups };
}

/** Whether two labellings split the items alike, whatever the clusters' numbers. */
function samePartition(a: number[], b: number[]): boolean {
  const pairs = new Set(a.map((x, i) => `${x},${b[i]}`));
  return pairs.size === new Set(a).size && pairs.size === new Set(b).size;
}

test('k-means finds well-separated groups, repeats from its seed at any thread count, leaves the RNG and no tensors behind', () => {
  T.manualSeed(1);
  const { images, groups } = blobs(300, [
    [0, 0, 0, 0],
    [1, 1, 0, 0],
    [0, 0, 1, 1],
  ]);
  const live = T.liveTensors().undisposed;
  T.manualSeed(9);
  const clusters = kMeans(images, 3, 0);
  const afterward = T.tidy(() => T.rand([3]).toFlatArray());
  T.manualSeed(9);
  assert.deepEqual(
    T.tidy(() => T.rand([3]).toFlatArray()),
    afterward,
    "libtorch's generator is not moved",
  );
  const labels = clusters.labels.toFlatArray();
  assert.ok(samePartition(labels, groups), 'the three groups, exactly');
  assert.deepEqual(clusters.sizes, [100, 100, 100]);
  for (const threads of [1, 3]) {
    const again = T.withThreads(threads, () => kMeans(images, 3, 0));
    assert.deepEqual(again.labels.toFlatArray(), labels, `${threads} threads`);
    again.labels.dispose();
  }
  clusters.labels.dispose();
  assert.equal(T.liveTensors().undisposed, live, 'no tensor left behind');
  images.dispose();
});

test("k-means ends at a fixed point of Lloyd's algorithm: every image is nearest its own cluster's mean", () => {
  T.manualSeed(2);
  const images = T.rand([400, 1, 3, 3]);
  const k = 7;
  const { labels, sizes } = kMeans(images, k, 5, 500);
  T.tidy(() => {
    const x = images.reshape([400, -1]);
    const member = T.eye(k).indexSelect(0, labels);
    const means = member.t().matmul(x).div(member.sum(0).unsqueeze(1));
    const nearest = x.unsqueeze(1).sub(means.unsqueeze(0)).pow(2).sum(2).argmin(1);
    // Fewer than one image in a thousand may still move when it stops: none of 400.
    assert.deepEqual(nearest.toFlatArray(), labels.toFlatArray());
    assert.deepEqual(member.sum(0).toFlatArray(), sizes);
  });
  assert.equal(
    sizes.reduce((a, b) => a + b),
    400,
  );
  assert.notDeepEqual(kMeans(images, k, 6).labels.toFlatArray(), labels.toFlatArray(), 'another seed, other centres');
  assert.throws(() => kMeans(images, 401, 0), /^Error: cannot form 401 clusters of 400 images$/);
  labels.dispose();
  images.dispose();
});

test('clusters are drawn as often as the data holds them, and the count follows the data', () => {
  const drawn = cyclingLabels(40, 3, null, [5, 2, 1]).toFlatArray();
  const counts = [0, 0, 0];
  drawn.forEach((c, i) => {
    counts[c]++;
    // Every prefix is within one draw of its share.
    for (const [j, w] of [5, 2, 1].entries()) assert.ok(Math.abs(counts[j] - ((i + 1) * w) / 8) < 1, `${i}: ${counts}`);
  });
  assert.deepEqual(counts, [25, 10, 5]);
  assert.deepEqual(cyclingLabels(6, 3, null, [1, 1, 1]).toFlatArray(), [0, 1, 2, 0, 1, 2], 'equal weights cycle');
  assert.deepEqual(cyclingLabels(3, 3, 2, [5, 2, 1]).toFlatArray(), [2, 2, 2], 'one class asked for');
  assert.equal(clusterCount(50, 60000), 50);
  assert.equal(clusterCount(50, 500), 10);
  assert.equal(clusterCount(50, 16), 1);
});

test('unlabelled data trains the clustered recipe by default; an explicit recipe and labelled data keep theirs', () => {
  const c = (over: Partial<GanTrainConfig>): GanTrainConfig => ({ ...GAN_DEFAULTS, ...over });
  assert.equal(recipeOf(c({ conditional: false })), 'clustered', '--no-conditional');
  assert.equal(recipeOf(c({ data: 'builtin:fashion-mnist:sneaker' })), 'clustered', 'one class');
  assert.equal(recipeOf(c({})), 'dcgan', 'labelled MNIST');
  assert.equal(recipeOf(c({ conditional: false, recipe: 'sngan' })), 'sngan');
  const run = withRecipe(c({ conditional: false }));
  assert.deepEqual([run.recipe, run.clusters, run.conditional], ['clustered', 50, false], 'labels unused');
  assert.equal(withRecipe(c({ recipe: 'clustered' })).conditional, false, 'labelled data, labels unused');
});

/** A folder of 24x24 grey pictures: `dark` near black, `light` near white, a little noise in each. */
async function twoKinds(dir: string, dark: number, light: number, from = 0): Promise<string> {
  mkdirSync(dir, { recursive: true });
  for (let i = from; i < from + dark + light; i++) {
    const px = Buffer.from(
      Array.from({ length: 24 * 24 }, (_, p) => (i < from + dark ? 20 : 220) + ((p * 7 + i) % 13)),
    );
    await sharp(px, { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(dir, `${i}.png`));
  }
  return dir;
}

test('a clustered run: the clusters and their sizes go with the weights, samples follow the sizes, resume refuses changed data', async () => {
  const data = await twoKinds(path.join(tmp(), 'pictures'), 60, 140);
  const out = path.join(tmp(), 'run');
  const cfg = tinyGan({ data, size: 24, channels: 1, steps: 2 });
  await trainGan(cfg, out, {});
  const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.deepEqual([config.recipe, config.clusters], ['clustered', 50]);
  const ck = loadCheckpoint(path.join(out, 'checkpoint.safetensors'));
  assert.deepEqual(ck.extra.classNames, ['cluster 1', 'cluster 2', 'cluster 3', 'cluster 4'], '200 images: 4 clusters');
  const sizes = ck.extra.classWeights as number[];
  assert.equal(
    sizes.reduce((a, b) => a + b),
    200,
  );
  using g = loadGenerator(out);
  assert.deepEqual(g.config.classWeights, sizes);
  assert.equal(classColumns(g), 0, 'samples are not laid out a column per cluster');
  assert.equal(classIndex(g, 'cluster 2'), 1);
  const grid = spawnSync(
    process.execPath,
    [CLI, 'gan', 'sample', out, '--count', '25', '--out', path.join(out, 's.png')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(grid.status, 0, grid.stderr);
  assert.equal(
    (await sharp(path.join(out, 's.png')).metadata()).width,
    5 * 24 + 4 * 2,
    'a square grid, not a column per cluster',
  );
  // Twenty more pictures make other clusters: the run does not go on as if nothing changed.
  await twoKinds(data, 20, 0, 200);
  await assert.rejects(
    trainGan({ ...cfg, steps: 4 }, out, { resume: true }),
    /^Error: the images of .* no longer form the clusters this run was trained on \(the data changed since\); train a new run$/,
  );
});
