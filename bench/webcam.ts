// The studio's webcam through fast style nets, in Chromium (its fake camera): frames a second
// in the page, where the net runs as ONNX in onnxruntime-web's worker, beside the same net in
// Loom on this CPU (libtorch, every thread) at the frame's size.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startStudio } from '../src/studio/server.js';
import { StyleNet, type StyleNetShape } from '../src/models/style/fast-net.js';
import { saveCheckpoint } from '../src/io/checkpoint.js';
import * as T from '../src/torch/index.js';
import { median, printTable } from './util.js';

const CHROMIUM = '/usr/bin/chromium';

/** Milliseconds for one frame of the net in Loom at width x height (median of `runs`). */
function loomMs(net: StyleNet, [width, height]: number[], runs = 5): number {
  const times: number[] = [];
  T.noGrad(() => {
    for (let i = 0; i < runs + 1; i++) {
      const t0 = performance.now();
      T.tidy(() => net.forward(T.rand([1, 3, height, width])).data());
      if (i > 0) times.push(performance.now() - t0);
    }
  });
  return median(times);
}

export async function webcamBench(o: { side: number; seconds: number }): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error('the webcam benchmark needs /usr/bin/chromium (scripts/setup.sh)');
  // Untrained weights run the same operators as trained ones: the default net and two smaller ones.
  const shapes: StyleNetShape[] = [
    { width: 32, residualBlocks: 5 },
    { width: 16, residualBlocks: 3 },
    { width: 8, residualBlocks: 3 },
  ];
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-webcam-'));
  const rows: string[][] = [];
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
  const studio = await startStudio({ root, port: 0 });
  try {
    for (const shape of shapes) {
      const name = `style-w${shape.width}-r${shape.residualBlocks}`;
      const run = path.join(root, 'runs', name);
      mkdirSync(run, { recursive: true });
      writeFileSync(path.join(run, 'config.json'), JSON.stringify({ system: 'style', ...shape }));
      using net = new StyleNet(shape);
      net.eval();
      saveCheckpoint(path.join(run, 'checkpoint.safetensors'), { modules: { net } }, { step: 0, config: shape });
      const page = await browser.newPage();
      await page.goto(studio.link);
      await page.click('button[data-tab=style]');
      await page.waitForFunction(
        (n) => [...document.querySelectorAll('#fast-run option')].some((x) => x.textContent === n),
        name,
      );
      await page.selectOption('#fast-run', name);
      await page.fill('#fast-side', String(o.side));
      await page.click('#cam-start');
      await page.waitForFunction(() => Number(document.getElementById('cam-out')!.dataset.frames) >= 3, null, {
        timeout: 120_000,
      });
      await page.waitForTimeout(o.seconds * 1000); // the rate is over the last 20 frames
      const status = (await page.textContent('#cam-status'))!;
      await page.click('#cam-stop');
      const threads = await page.evaluate(() => (crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1));
      await page.close();
      const fps = Number(/([\d.]+) frames a second/.exec(status)?.[1] ?? NaN);
      const frame = /^(\d+)x(\d+)/.exec(status);
      if (!frame) throw new Error(`the page said "${status}", not a frame's size and rate`);
      const ms = loomMs(net, [Number(frame[1]), Number(frame[2])]);
      rows.push([
        `width ${shape.width}, ${shape.residualBlocks} blocks`,
        status.split(',')[0],
        String(threads),
        fps.toFixed(1),
        (1000 / ms).toFixed(1),
        (fps / (1000 / ms)).toFixed(2),
      ]);
      console.log(`${name}: ${status}; Loom ${ms.toFixed(0)} ms a frame`);
    }
  } finally {
    await browser.close();
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
  printTable(['net', 'frame', 'page threads', 'page frames/s', 'Loom frames/s', 'page / Loom'], rows);
}
