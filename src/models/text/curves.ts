// The text run's learning curve as a picture: training and held-out bits per character by
// step, from the run's metrics, drawn from the same chart specification as the other systems.
import { lineChartSpec, writeChart } from '../../io/chart.js';
import { RunFolder } from '../../io/run-folder.js';

/** Writes `curves.png` in the run folder; false when there is nothing to draw yet. */
export async function writeTextCurves(dir: string): Promise<boolean> {
  const run = new RunFolder(dir);
  const metrics = run.readMetrics();
  // One point per step (an evaluation at the end of an epoch is logged twice), the last kept.
  const curve = (name: string, key: string, smooth: number) => {
    const at = new Map<number, number>();
    for (const m of metrics) if (typeof m[key] === 'number' && typeof m.step === 'number') at.set(m.step, m[key]);
    return { name, x: [...at.keys()], y: [...at.values()], smooth };
  };
  const curves = [curve('training', 'bpc', 5), curve('held-out', 'val_bpc', 1)].filter((c) => c.x.length > 0);
  if (!curves.some((c) => c.x.length > 1)) return false;
  await writeChart(run.file('curves.png'), lineChartSpec(curves, { x: 'step', y: 'bits per character' }));
  return true;
}
