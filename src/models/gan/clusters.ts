// Clusters of unlabelled images, which the clustered recipe conditions its networks on as if
// they were classes (Liu et al. 2020, "Diverse Image Generation via Self-Conditioned GANs";
// Sage et al. 2018): k-means on the pixels, from k-means++ centres.
import * as T from '../../torch/index.js';
import { Tensor, noGrad, tidy } from '../../torch/index.js';
import { Rng } from '../../util/random.js';

export interface Clusters {
  /** Each image's cluster, int64 [N]. */
  labels: Tensor;
  /** How many images each cluster holds. */
  sizes: number[];
}

/** Fixed, so that every thread setting (and every rank of a launch) forms the same clusters. */
const CLUSTER_THREADS = 2;
/** Each cluster gets at least this many images on average; smaller data forms fewer. */
export const IMAGES_PER_CLUSTER = 50;

/**
 * How many clusters `wanted` becomes for n images: at most one per IMAGES_PER_CLUSTER, at
 * least one (which leaves nothing to condition on).
 */
export function clusterCount(wanted: number, n: number): number {
  return Math.max(1, Math.min(wanted, Math.floor(n / IMAGES_PER_CLUSTER)));
}

/** The names a clustered run gives its classes. */
export function clusterNames(k: number): string[] {
  return Array.from({ length: k }, (_, i) => `cluster ${i + 1}`);
}

/** Squared distances [N, K] between rows of x [N, D] (with x2, their squared norms [N, 1]) and centres [K, D]. */
function squaredDistances(x: Tensor, x2: Tensor, centres: Tensor): Tensor {
  return x2.sub(x.matmul(centres.t()).mul(2)).add(centres.pow(2).sum(1).unsqueeze(0)).clamp(0);
}

/**
 * k clusters of images [N, ...] by k-means on their pixels: k-means++ centres drawn with a
 * generator seeded by `seed` (libtorch's is not touched), then at most `rounds` rounds of
 * Lloyd's algorithm, stopping when hardly any image changes cluster. An emptied cluster keeps its centre.
 */
export function kMeans(images: Tensor, k: number, seed: number, rounds = 30): Clusters {
  const n = images.size(0);
  if (!Number.isInteger(k) || k < 1 || k > n) throw new Error(`cannot form ${k} clusters of ${n} images`);
  return T.withThreads(CLUSTER_THREADS, () =>
    noGrad(() => {
      const rng = new Rng(seed, 0x6b6d);
      const x = T.keep(images.reshape([n, -1]).to('float32'));
      const x2 = T.keep(tidy(() => x.pow(2).sum(1).unsqueeze(1)));
      let centres = T.keep(tidy(() => x.narrow(0, rng.int(n), 1).clone()));
      let labels: Tensor | null = null;
      try {
        // k-means++: each next centre is an image drawn with probability its squared distance
        // to the nearest centre so far.
        let nearest = T.keep(tidy(() => squaredDistances(x, x2, centres).squeeze(1)));
        for (let c = 1; c < k; c++) {
          const d = nearest.toFlatArray();
          const total = d.reduce((a, b) => a + b, 0);
          let pick = 0;
          if (total > 0) {
            let r = rng.next() * total;
            while (pick < n - 1 && (r -= d[pick]) >= 0) pick++;
          } else pick = rng.int(n); // every image is a centre already: duplicates
          const centre = x.narrow(0, pick, 1);
          const grown = T.keep(tidy(() => T.cat([centres, centre], 0)));
          const closer = T.keep(tidy(() => T.minimum(nearest, squaredDistances(x, x2, centre).squeeze(1))));
          for (const t of [centres, nearest, centre]) t.dispose();
          [centres, nearest] = [grown, closer];
        }
        nearest.dispose();
        labels = T.keep(tidy(() => squaredDistances(x, x2, centres).argmin(1)));
        for (let round = 0; round < rounds; round++) {
          const moved = T.keep(
            tidy(() => {
              const member = T.eye(k).indexSelect(0, labels!);
              const counts = member.sum(0).unsqueeze(1);
              return T.where(counts.gt(0), member.t().matmul(x).div(counts.clamp(1)), centres);
            }),
          );
          centres.dispose();
          centres = moved;
          const next = T.keep(tidy(() => squaredDistances(x, x2, centres).argmin(1)));
          // Settled when at most one image in a thousand changed cluster: the last moves of
          // Lloyd's algorithm cost a round each and change little.
          const settled = tidy(() => n - next.eq(labels!).sum().item() <= n / 1000);
          labels.dispose();
          labels = next;
          if (settled) break;
        }
        const sizes = tidy(() => T.eye(k).indexSelect(0, labels!).sum(0).toFlatArray());
        return { labels, sizes };
      } catch (e) {
        labels?.dispose();
        throw e;
      } finally {
        for (const t of [x, x2, centres]) t.dispose();
      }
    }),
  );
}
