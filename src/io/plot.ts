// A scatter plot rendered straight into an image tensor (no plotting library), coloured by
// label. Line charts are Vega-Lite specifications (chart.ts).
import * as T from '../torch/index.js';
import { Tensor, tidy } from '../torch/index.js';

const PALETTE = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

/** A scatter plot [1, 3, size, size] of 2-D points coloured by label, on white with a frame. */
export function scatterPlot(points: Float32Array, labels: ArrayLike<number>, size = 512): Tensor {
  return render(points, labels, size, size);
}

function render(points: Float32Array, labels: ArrayLike<number>, width: number, height: number, dot = 1): Tensor {
  const n = labels.length;
  const px = new Uint8Array(width * height * 3).fill(255);
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, points[2 * i]);
    x1 = Math.max(x1, points[2 * i]);
    y0 = Math.min(y0, points[2 * i + 1]);
    y1 = Math.max(y1, points[2 * i + 1]);
  }
  const m = 16;
  const sx = (v: number) => Math.round(m + ((v - x0) / (x1 - x0 || 1)) * (width - 2 * m - 1));
  const sy = (v: number) => Math.round(height - m - 1 - ((v - y0) / (y1 - y0 || 1)) * (height - 2 * m - 1));
  const put = (x: number, y: number, c: number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    px.set(c, (y * width + x) * 3);
  };
  for (let k = m - 4; k < width - m + 4; k++) for (const y of [m - 4, height - m + 3]) put(k, y, [0, 0, 0]);
  for (let k = m - 4; k < height - m + 4; k++) for (const x of [m - 4, width - m + 3]) put(x, k, [0, 0, 0]);
  for (let i = 0; i < n; i++) {
    const c = PALETTE[Math.abs(Math.round(labels[i])) % PALETTE.length];
    const x = sx(points[2 * i]);
    const y = sy(points[2 * i + 1]);
    for (let dx = -dot; dx <= dot; dx++) for (let dy = -dot; dy <= dot; dy++) put(x + dx, y + dy, c);
  }
  return tidy(() =>
    T.tensor(px, { shape: [height, width, 3] })
      .permute([2, 0, 1])
      .unsqueeze(0)
      .float()
      .div(255),
  );
}
