import { trainText, TEXT_DEFAULTS } from '../dist/src/models/text/index.js';
import * as T from '../dist/src/torch/index.js';
import { rmSync } from 'node:fs';
rmSync('/tmp/soak/mp', { recursive: true, force: true });
const mb = (x) => (x / 2 ** 20).toFixed(0);
trainText({ ...TEXT_DEFAULTS, corpus: process.argv[2] ?? '/tmp/soak/play.txt', steps: +(process.argv[3] ?? 600), logEvery: 50, sampleLength: 10 }, '/tmp/soak/mp', {}, {
  onStep: (l) => { const m = process.memoryUsage(); const c = T.cpuMemory(); console.log(l.step, l.ms_per_step.toFixed(0), 'rss', mb(m.rss), 'heapTotal', mb(m.heapTotal), 'ext', mb(m.external), 'ab', mb(m.arrayBuffers), 'cheap', mb(c.heapSystem), 'cheapUsed', mb(c.heapInUse), 'large', mb(c.largeInUse), mb(c.largeCached), 'live', T.liveTensors().count); } });
