// The playgrounds over trained runs: text generation (streamed), the VAE's latent plane and
// interpolation, and the GAN's samples per seed.
import { $, clearPicture, field, showPicture } from './dom.js';
import { decodeInPage, generateInPage, walkInPage } from './in-page.js';
import { onRuns } from './pickers.js';

// text: the answer streams in as the model samples it
field('gen-temp').oninput = () => ($('gen-temp-v').textContent = field('gen-temp').value);
$('gen-go').onclick = async () => {
  const out = $('gen-out');
  const run = $<HTMLSelectElement>('gen-run').value;
  if (!run) {
    out.textContent = 'train a text model above first: generation needs a trained run';
    return;
  }
  out.textContent = ''; // the stream starts with the prime
  const asked = {
    run,
    prime: field('gen-prime').value,
    temperature: Number(field('gen-temp').value),
    topK: Number(field('gen-topk').value),
    // 0 in the form means no nucleus cut, which the library spells 1
    topP: Number(field('gen-topp').value) || 1,
    length: Number(field('gen-length').value),
    seed: Number(field('gen-seed').value),
  };
  const status = $('gen-status');
  if (field('gen-inpage').checked) {
    status.textContent = 'generating in this page...';
    out.textContent = asked.prime; // as the studio's stream, which starts with the prime
    try {
      await generateInPage(asked, (piece) => (out.textContent += piece));
      status.textContent = 'done, in this page';
    } catch (e) {
      status.textContent = (e as Error).message;
    }
    return;
  }
  status.textContent = '';
  const r = await fetch('/api/text/generate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(asked),
  });
  if (!r.ok || !r.body) {
    out.textContent = ((await r.json().catch(() => ({}))) as { error?: string }).error ?? r.statusText;
    return;
  }
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out.textContent += dec.decode(value, { stream: true });
  }
  status.textContent = 'done';
};

// VAE latent plane: [-3, 3] on both axes; the image follows the pointer while it is down
const plane = $<HTMLCanvasElement>('vae-plane');
let dragging = false;
let pending: [number, number] | null = null;
let last: [number, number] = [150, 150];
let busy = false;
export function drawPlane(pt?: [number, number]): void {
  const g = plane.getContext('2d');
  if (!g) return;
  g.clearRect(0, 0, 300, 300);
  g.strokeStyle = '#ccc';
  for (let i = 0; i <= 6; i++) {
    const p = i * 50;
    g.beginPath();
    g.moveTo(p, 0);
    g.lineTo(p, 300);
    g.moveTo(0, p);
    g.lineTo(300, p);
    g.stroke();
  }
  if (pt) {
    g.fillStyle = '#c33';
    g.beginPath();
    g.arc(pt[0], pt[1], 5, 0, 7);
    g.fill();
  }
}
async function decodeAt(px: number, py: number): Promise<void> {
  pending = last = [px, py];
  const run = $<HTMLSelectElement>('vae-run').value;
  if (busy || !run) return;
  busy = true;
  while (pending) {
    const [x, y] = pending;
    pending = null;
    const zx = (x / 300) * 6 - 3;
    const zy = 3 - (y / 300) * 6;
    $('vae-z').textContent = 'z = (' + zx.toFixed(2) + ', ' + zy.toFixed(2) + ')';
    drawPlane([x, y]);
    const img = $<HTMLImageElement>('vae-img');
    if (field('vae-inpage').checked) {
      img.src = await decodeInPage(run, zx, zy).catch((e: Error) => {
        $('vae-z').textContent = e.message;
        return img.src;
      });
      continue;
    }
    await showPicture(img, '/api/vae/decode?run=' + encodeURIComponent(run) + '&x=' + zx + '&y=' + zy);
  }
  busy = false;
}
const at = (e: PointerEvent): [number, number] => {
  const r = plane.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
};
plane.onpointerdown = (e) => {
  dragging = true;
  void decodeAt(...at(e));
};
plane.onpointermove = (e) => {
  if (dragging) void decodeAt(...at(e));
};
window.onpointerup = () => (dragging = false);
// The arrow keys move the point from the last one (the centre at first): 0.2 a press, a grid square with Shift.
plane.onkeydown = (e) => {
  const d = e.shiftKey ? 50 : 10;
  const move = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, -d], ArrowDown: [0, d] }[e.key];
  if (!move) return;
  e.preventDefault();
  const clamp = (v: number) => Math.min(300, Math.max(0, v));
  void decodeAt(clamp(last[0] + move[0]), clamp(last[1] + move[1]));
};
$('vae-run').onchange = () => void decodeAt(150, 150);

$('vae-walk').onclick = () => {
  const run = $<HTMLSelectElement>('vae-run').value;
  const strip = $<HTMLImageElement>('vae-strip');
  if (!run) return clearPicture(strip, 'train a VAE above first: the strip decodes between two of its test images');
  const q = '&a=' + encodeURIComponent(field('vae-a').value) + '&b=' + encodeURIComponent(field('vae-b').value);
  void showPicture(strip, '/api/vae/interpolate?run=' + encodeURIComponent(run) + q);
};

// GAN: each seed is a grid of 16 latent points
field('gan-seed').oninput = () => {
  $('gan-seed-v').textContent = field('gan-seed').value;
  ganSample();
};
$('gan-run').onchange = ganSample;
field('gan-label').onchange = ganSample;
function ganSample(): void {
  const run = $<HTMLSelectElement>('gan-run').value;
  const img = $<HTMLImageElement>('gan-img');
  if (!run) return clearPicture(img);
  const label = field('gan-label').value;
  void showPicture(
    img,
    '/api/gan/sample?run=' +
      encodeURIComponent(run) +
      '&seed=' +
      field('gan-seed').value +
      (label === '' ? '' : '&label=' + encodeURIComponent(label)),
  );
}

// GAN walk, in this page: the picture follows the slider; a newer position replaces a waiting one
let walkBusy = false;
let walkAgain = false;
async function walk(): Promise<void> {
  const run = $<HTMLSelectElement>('walk-run').value;
  const img = $<HTMLImageElement>('walk-img');
  const status = $('walk-status');
  $('walk-t-v').textContent = field('walk-t').value;
  if (!run) return clearPicture(img);
  if (walkBusy) {
    walkAgain = true;
    return;
  }
  walkBusy = true;
  try {
    do {
      walkAgain = false;
      const pick = $<HTMLSelectElement>('walk-class');
      const seeds: [number, number] = [Number(field('walk-a').value), Number(field('walk-b').value)];
      const { url, classes } = await walkInPage(run, seeds, Number(field('walk-t').value), pick.selectedIndex);
      img.src = url;
      if (pick.options.length !== classes.length || [...pick.options].some((o, i) => o.text !== classes[i])) {
        pick.replaceChildren(...classes.map((c) => new Option(c)));
        pick.disabled = classes.length === 0;
      }
      status.textContent = 'in this page';
    } while (walkAgain);
  } catch (e) {
    clearPicture(img, (e as Error).message);
    status.textContent = '';
  } finally {
    walkBusy = false;
  }
}
for (const id of ['walk-t', 'walk-a', 'walk-b']) field(id).oninput = () => void walk();
$('walk-run').onchange = () => {
  $<HTMLSelectElement>('walk-class').replaceChildren();
  void walk();
};
$('walk-class').onchange = () => void walk();

onRuns(() => {
  drawPlane();
  ganSample();
  void walk();
});
drawPlane();
