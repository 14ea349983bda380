// One rank of the gradient-sync test in dist.test.ts: an optimizer whose parameters all get
// gradients (the Reducer's, on libtorch 2.x) and one with a parameter the loss never reaches
// (averaged after backward). Prints the parameters after three steps and the group's path.
import * as T from '../../src/torch/index.js';
import { ProcessGroup } from '../../src/distributed/index.js';
import { SGD } from '../../src/optim/index.js';

const [rank, port] = process.argv.slice(2).map(Number);
using group = ProcessGroup.join({
  rank,
  world: 2,
  localRank: rank,
  localWorld: 2,
  masterAddr: '127.0.0.1',
  masterPort: port,
  timeoutS: 30,
});
const used = T.tensor([1, 2, 3], { requiresGrad: true });
const alone = T.tensor([4, 5], { requiresGrad: true });
const unreached = T.tensor([1, 1], { requiresGrad: true });
const full = new SGD([used], { lr: 0.1 });
full.gradientSync = group.gradientSync();
const partial = new SGD([alone, unreached], { lr: 0.1 });
partial.gradientSync = group.gradientSync();
const x = T.tensor(rank === 0 ? [1, 0, 2] : [3, 2, 0]);
for (let step = 0; step < 3; step++) {
  T.tidy(() => {
    full.backwardStep(used.mul(x).sum());
    partial.backwardStep(alone.mul(rank + 1).sum());
  });
}
const values = (t: T.Tensor) => Array.from(t.toFlatArray() as ArrayLike<number>);
console.log(
  JSON.stringify({ used: values(used), alone: values(alone), unreached: values(unreached), path: group.gradientPath }),
);
