// The studio's one page: forms that start jobs, live progress over server-sent events, and
// the interactive views. No model logic here: every number comes from the server.
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Loom studio</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="loom-token" content="__LOOM_TOKEN__">
<style>
 body{font:14px system-ui,sans-serif;margin:0;background:#f6f6f3;color:#222}
 header{background:#233;color:#fff;padding:10px 16px;display:flex;gap:8px;align-items:center}
 header h1{font-size:18px;margin:0 16px 0 0}
 nav button{background:#344;color:#dde;border:0;padding:6px 12px;border-radius:4px;cursor:pointer}
 nav button.on{background:#6a9;color:#fff}
 main{padding:16px;max-width:1100px}
 section{display:none} section.on{display:block}
 fieldset{border:1px solid #ccc;border-radius:6px;margin:0 0 12px;padding:10px;background:#fff}
 label{display:inline-block;margin:4px 12px 4px 0} input[type=number]{width:80px}
 .status{font-weight:600;margin-left:8px} .failed{color:#b22} .done{color:#272} .running{color:#a60}
 pre{background:#fff;border:1px solid #ddd;padding:8px;max-height:180px;overflow:auto;white-space:pre-wrap;margin:6px 0}
 .imgs img{max-width:320px;max-height:320px;margin:4px;border:1px solid #ccc;image-rendering:pixelated;background:#fff}
 canvas.chart{background:#fff;border:1px solid #ddd}
 #vae-plane{background:#fff;border:1px solid #888;cursor:crosshair;touch-action:none}
 #gen-out{min-height:80px;max-height:300px}
 .row{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
</style></head>
<body>
<header><h1>Loom studio</h1><nav>
 <button data-tab="text" class="on">text</button><button data-tab="dream">dream</button><button data-tab="style">style</button>
 <button data-tab="vae">vae</button><button data-tab="gan">gan</button><button data-tab="runs">runs</button></nav></header>
<main>
<section id="tab-text" class="on">
 <fieldset data-system="text"><legend>train a character-level LSTM</legend>
  <label>corpus <input data-opt="corpus" id="text-corpus" value="builtin:sotu"></label>
  <label>upload <input type="file" accept=".txt,text/plain" class="upload" data-target="text-corpus" id="text-upload"></label>
  <label>steps <input type="number" data-opt="steps" id="text-steps" value="300"></label>
  <label>units <input type="number" data-opt="units" id="text-units" value="128"></label>
  <label>maxlen <input type="number" data-opt="maxlen" id="text-maxlen" value="60"></label>
  <label>batch <input type="number" data-opt="batch" id="text-batch" value="128"></label>
  <label>log every <input type="number" data-opt="log-every" id="text-logevery" value="10"></label>
  <label>sample length <input type="number" data-opt="sample-length" value="200"></label>
  <button class="start" id="text-start">start</button><button class="stop" id="text-stop">stop</button><span class="status" id="text-status"></span>
  <div class="row"><canvas class="chart" id="text-chart" width="420" height="160"></canvas><pre class="log" id="text-log"></pre></div>
 </fieldset>
 <fieldset><legend>generate</legend>
  <label>model <select id="gen-run"></select></label>
  <label>prime <input id="gen-prime" value="The " size="30"></label>
  <label>temperature <input type="range" id="gen-temp" min="0" max="1.5" step="0.05" value="0.5"><span id="gen-temp-v">0.5</span></label>
  <label>top-k <input type="number" id="gen-topk" value="0"></label><label>top-p <input type="number" id="gen-topp" step="0.05" value="0"></label>
  <label>length <input type="number" id="gen-length" value="300"></label>
  <button id="gen-go">generate</button>
  <pre id="gen-out"></pre>
 </fieldset>
</section>
<section id="tab-dream">
 <fieldset data-system="dream"><legend>DeepDream</legend>
  <label>image <select data-opt="image" class="image-pick" id="dream-image"></select></label>
  <label>upload <input type="file" accept="image/*" class="upload" data-target="dream-image" id="dream-upload"></label>
  <label>layers <input data-opt="layers" id="dream-layers" value="mixed2=0.2,mixed3=3,mixed4=2,mixed5=1.5" size="36"></label>
  <label>octaves <input type="number" data-opt="octaves" id="dream-octaves" value="3"></label>
  <label>steps <input type="number" data-opt="steps" id="dream-steps" value="20"></label>
  <label>max side <input type="number" data-opt="max-side" id="dream-maxside" value="500"></label>
  <button class="start" id="dream-start">start</button><button class="stop" id="dream-stop">stop</button><span class="status" id="dream-status"></span>
  <div class="row"><canvas class="chart" id="dream-chart" width="420" height="160"></canvas><pre class="log" id="dream-log"></pre></div>
  <div class="imgs" id="dream-images"></div>
 </fieldset>
</section>
<section id="tab-style">
 <fieldset data-system="style"><legend>neural style transfer (L-BFGS)</legend>
  <label>content <select data-opt="content" class="image-pick" id="style-content"></select></label>
  <label>style <select data-opt="style" class="image-pick" id="style-style" data-default="builtin:scream"></select></label>
  <label>upload <input type="file" accept="image/*" class="upload" data-target="style-content" id="style-upload"></label>
  <label>height <input type="number" data-opt="height" id="style-height" value="300"></label>
  <label>iterations <input type="number" data-opt="iterations" id="style-iterations" value="10"></label>
  <label>evals per iteration <input type="number" data-opt="max-evals" id="style-maxevals" value="20"></label>
  <label>style weight <input type="number" data-opt="style-weight" id="style-weight" placeholder="default"></label>
  <label><input type="checkbox" data-opt="preserve-colors" id="style-preserve"> keep the photo's colours</label>
  <button class="start" id="style-start">start</button><button class="stop" id="style-stop">stop</button><span class="status" id="style-status"></span>
  <div class="row"><canvas class="chart" id="style-chart" width="420" height="160"></canvas><pre class="log" id="style-log"></pre></div>
  <div class="imgs" id="style-images"></div>
 </fieldset>
</section>
<section id="tab-vae">
 <fieldset data-system="vae"><legend>train a VAE</legend>
  <label>data <select data-opt="data" id="vae-data"><option>builtin:mnist</option><option>builtin:fashion-mnist</option></select></label>
  <label>epochs <input type="number" data-opt="epochs" id="vae-epochs" value="1"></label>
  <label>latent <input type="number" data-opt="latent" id="vae-latent" value="2"></label>
  <label>images <input type="number" data-opt="limit" id="vae-limit" value="6000"></label>
  <label>log every <input type="number" data-opt="log-every" id="vae-logevery" value="10"></label>
  <button class="start" id="vae-start">start</button><button class="stop" id="vae-stop">stop</button><span class="status" id="vae-status"></span>
  <div class="row"><canvas class="chart" id="vae-chart" width="420" height="160"></canvas><pre class="log" id="vae-log"></pre></div>
  <div class="imgs" id="vae-images"></div>
 </fieldset>
 <fieldset><legend>latent explorer: drag across the plane</legend>
  <label>model <select id="vae-run"></select></label> <span id="vae-z"></span>
  <div class="row"><canvas id="vae-plane" width="300" height="300"></canvas><img id="vae-img" alt="decoded image" width="168" height="168"></div>
 </fieldset>
 <fieldset><legend>interpolate between two test images</legend>
  <label>image A <input type="number" id="vae-a" value="0" min="0"></label><label>image B <input type="number" id="vae-b" value="1" min="0"></label>
  <button id="vae-walk">interpolate</button><div><img id="vae-strip" alt="interpolation"></div>
 </fieldset>
</section>
<section id="tab-gan">
 <fieldset data-system="gan"><legend>train a DCGAN</legend>
  <label>data <select data-opt="data" id="gan-data"><option>builtin:mnist</option><option>builtin:fashion-mnist</option></select></label>
  <label>steps <input type="number" data-opt="steps" id="gan-steps" value="300"></label>
  <label>generator width <input type="number" data-opt="g-filters" id="gan-gf" value="32"></label>
  <label>discriminator width <input type="number" data-opt="d-filters" id="gan-df" value="32"></label>
  <label>sample every <input type="number" data-opt="sample-every" id="gan-sampleevery" value="50"></label>
  <label>log every <input type="number" data-opt="log-every" id="gan-logevery" value="10"></label>
  <button class="start" id="gan-start">start</button><button class="stop" id="gan-stop">stop</button><span class="status" id="gan-status"></span>
  <div class="row"><canvas class="chart" id="gan-chart" width="420" height="160"></canvas><pre class="log" id="gan-log"></pre></div>
  <div class="imgs" id="gan-images"></div>
 </fieldset>
 <fieldset><legend>walk through latent space</legend>
  <label>model <select id="gan-run"></select></label>
  <label>seed <input type="range" id="gan-seed" min="0" max="200" value="0"><span id="gan-seed-v">0</span></label>
  <div><img id="gan-img" alt="generated samples"></div>
 </fieldset>
</section>
<section id="tab-runs"><fieldset><legend>run folders</legend><div id="runs-list"></div></fieldset></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const jobs = {};           // system -> its latest job
const plan = {};           // system -> { started, total } for the time left
const series = {};         // system -> loss values
const LOSS = { text: 'loss', dream: 'loss', style: 'loss', vae: 'loss', gan: 'd_loss' };
const fileUrl = (f) => '/files/' + f.split('/').map(encodeURIComponent).join('/');

for (const b of document.querySelectorAll('nav button')) b.onclick = () => show(b.dataset.tab);
function show(tab) {
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('on', b.dataset.tab === tab);
  for (const s of document.querySelectorAll('main section')) s.classList.toggle('on', s.id === 'tab-' + tab);
  if (tab === 'runs') loadRuns();
}

// The server's per-session token: every request that changes something carries it.
const TOKEN = document.querySelector('meta[name=loom-token]').content;
async function api(method, url, body) {
  const headers = { 'x-loom-token': TOKEN };
  if (body) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function setStatus(system, text, cls) {
  const el = $(system + '-status'); if (!el) return;
  el.textContent = text; el.className = 'status ' + (cls || '');
}

for (const fs of document.querySelectorAll('fieldset[data-system]')) {
  const system = fs.dataset.system;
  fs.querySelector('.start').onclick = async () => {
    const options = {};
    for (const el of fs.querySelectorAll('[data-opt]')) options[el.dataset.opt] = el.type === 'checkbox' ? el.checked : el.value;
    series[system] = []; drawChart(system); $(system + '-log').textContent = '';
    const n = (k) => Number(options[k]) || 0;
    plan[system] = { started: 0, total: { text: n('steps'), gan: n('steps'), dream: n('octaves') * n('steps'), style: n('iterations'), vae: n('epochs') }[system] };
    const imgs = $(system + '-images'); if (imgs) imgs.textContent = '';
    try { jobs[system] = await api('POST', '/api/jobs', { system, options }); setStatus(system, 'queued'); }
    catch (e) { setStatus(system, e.message, 'failed'); }
  };
  fs.querySelector('.stop').onclick = async () => { if (jobs[system]) await api('DELETE', '/api/jobs/' + jobs[system].id).catch(() => {}); };
}

function drawChart(system) {
  const c = $(system + '-chart'); if (!c) return;
  const g = c.getContext('2d'); const v = series[system] || [];
  g.clearRect(0, 0, c.width, c.height); g.fillStyle = '#666'; g.font = '11px sans-serif';
  g.fillText(LOSS[system] + (v.length ? ' ' + v[v.length - 1].toPrecision(4) : ''), 6, 12);
  if (v.length < 2) return;
  const lo = Math.min(...v), hi = Math.max(...v), span = hi - lo || 1;
  g.strokeStyle = '#2a7'; g.lineWidth = 1.5; g.beginPath();
  v.forEach((y, i) => { const px = 4 + (i / (v.length - 1)) * (c.width - 8); const py = c.height - 6 - ((y - lo) / span) * (c.height - 24); i ? g.lineTo(px, py) : g.moveTo(px, py); });
  g.stroke();
}

const events = new EventSource('/api/events');
events.onmessage = (m) => {
  const e = JSON.parse(m.data);
  if (e.type === 'hello') return;
  const system = e.job.system;
  if (jobs[system] && jobs[system].id !== e.job.id) return;
  jobs[system] = e.job;
  if (e.type === 'job') {
    setStatus(system, e.job.status + (e.job.error ? ': ' + e.job.error : ''), e.job.status);
    if (e.job.status === 'done') refreshModels();
  } else if (e.type === 'log') {
    const r = e.record; const log = $(system + '-log');
    log.textContent += JSON.stringify(r) + '\\n'; log.scrollTop = log.scrollHeight;
    const k = LOSS[system];
    if (typeof r[k] === 'number') { (series[system] = series[system] || []).push(r[k]); drawChart(system); }
    const bits = [];
    if (r.step !== undefined) bits.push('step ' + r.step);
    if (r.iteration !== undefined) bits.push('iteration ' + (r.iteration + 1));
    if (r.octave !== undefined) bits.push('octave ' + (r.octave + 1));
    if (r.ms_per_step) bits.push(r.ms_per_step.toFixed(0) + ' ms/step');
    if (r.ms_per_eval) bits.push(r.ms_per_eval.toFixed(0) + ' ms/eval');
    const left = timeLeft(system, r);
    if (left) bits.push(left);
    if (bits.length) setStatus(system, 'running: ' + bits.join(', '), 'running');
  } else if (e.type === 'file') {
    const box = $(system + '-images'); if (!box) return;
    const a = document.createElement('a'); a.href = fileUrl(e.file); a.download = e.file.split('/').pop(); a.title = 'download ' + a.download;
    const img = document.createElement('img'); img.src = fileUrl(e.file); a.append(img);
    box.prepend(a);
    while (box.children.length > 8) box.lastChild.remove();
  }
};

// Time left from the elapsed time and the fraction done (steps, octave steps, iterations or epochs).
function timeLeft(system, r) {
  const p = plan[system]; if (!p || !p.total) return '';
  if (!p.started) p.started = Date.now();
  const done = { text: r.step, gan: r.step, dream: r.octave !== undefined ? r.octave * (p.total / Number($('dream-octaves').value || 1)) + r.step + 1 : undefined, style: r.iteration !== undefined ? r.iteration + 1 : undefined, vae: r.epoch }[system];
  if (!(done > 0) || done >= p.total) return '';
  const sec = ((Date.now() - p.started) / 1000) * (p.total - done) / done;
  return 'about ' + (sec < 90 ? Math.round(sec) + ' s' : Math.round(sec / 60) + ' min') + ' left';
}

async function refreshImages() {
  const list = await api('GET', '/api/images');
  for (const sel of document.querySelectorAll('select.image-pick')) {
    const keep = sel.value || sel.dataset.default;
    sel.innerHTML = list.map((v) => '<option>' + v + '</option>').join('');
    if (keep && list.includes(keep)) sel.value = keep;
  }
}
for (const up of document.querySelectorAll('input.upload')) up.onchange = async () => {
  const f = up.files[0]; if (!f) return;
  const type = up.accept.startsWith('.txt') ? 'text/plain' : f.type;
  const r = await fetch('/api/upload', { method: 'POST', headers: { 'content-type': type, 'x-loom-token': TOKEN }, body: f });
  const data = await r.json();
  if (!r.ok) { alert(data.error); return; }
  await refreshImages(); $(up.dataset.target).value = data.id;
};

async function refreshModels() {
  const runs = await api('GET', '/api/runs');
  const fill = (id, system) => {
    const sel = $(id); const keep = sel.value;
    const names = runs.filter((r) => r.system === system && r.checkpoint).map((r) => r.name);
    sel.innerHTML = names.map((n) => '<option>' + n + '</option>').join('');
    sel.value = names.includes(keep) ? keep : (names[names.length - 1] || '');
  };
  fill('gen-run', 'text'); fill('vae-run', 'vae'); fill('gan-run', 'gan');
  drawPlane(); ganSample();
}

// text playground: the answer streams in as the model samples it
$('gen-temp').oninput = () => ($('gen-temp-v').textContent = $('gen-temp').value);
$('gen-go').onclick = async () => {
  const out = $('gen-out'); out.textContent = ''; // the stream starts with the prime
  const r = await fetch('/api/text/generate', { method: 'POST', headers: { 'content-type': 'application/json', 'x-loom-token': TOKEN }, body: JSON.stringify({
    run: $('gen-run').value, prime: $('gen-prime').value, temperature: Number($('gen-temp').value), topK: Number($('gen-topk').value), topP: Number($('gen-topp').value), length: Number($('gen-length').value) }) });
  if (!r.ok) { out.textContent = (await r.json()).error; return; }
  const reader = r.body.getReader(); const dec = new TextDecoder();
  for (;;) { const { value, done } = await reader.read(); if (done) break; out.textContent += dec.decode(value, { stream: true }); }
};

// VAE latent plane: [-3, 3] on both axes; the image follows the pointer while it is down
const plane = $('vae-plane'); let dragging = false; let pending = null; let busy = false;
function drawPlane(pt) {
  const g = plane.getContext('2d'); g.clearRect(0, 0, 300, 300); g.strokeStyle = '#ccc';
  for (let i = 0; i <= 6; i++) { const p = i * 50; g.beginPath(); g.moveTo(p, 0); g.lineTo(p, 300); g.moveTo(0, p); g.lineTo(300, p); g.stroke(); }
  if (pt) { g.fillStyle = '#c33'; g.beginPath(); g.arc(pt[0], pt[1], 5, 0, 7); g.fill(); }
}
async function decodeAt(px, py) {
  pending = [px, py]; if (busy || !$('vae-run').value) return;
  busy = true;
  while (pending) {
    const [x, y] = pending; pending = null;
    const zx = (x / 300) * 6 - 3, zy = 3 - (y / 300) * 6;
    $('vae-z').textContent = 'z = (' + zx.toFixed(2) + ', ' + zy.toFixed(2) + ')'; drawPlane([x, y]);
    const blob = await (await fetch('/api/vae/decode?run=' + encodeURIComponent($('vae-run').value) + '&x=' + zx + '&y=' + zy)).blob();
    const old = $('vae-img').src; $('vae-img').src = URL.createObjectURL(blob); if (old.startsWith('blob:')) URL.revokeObjectURL(old);
  }
  busy = false;
}
const at = (e) => { const r = plane.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
plane.onpointerdown = (e) => { dragging = true; decodeAt(...at(e)); };
plane.onpointermove = (e) => { if (dragging) decodeAt(...at(e)); };
window.onpointerup = () => (dragging = false);
$('vae-run').onchange = () => decodeAt(150, 150);

$('vae-walk').onclick = () => {
  if ($('vae-run').value) $('vae-strip').src = '/api/vae/interpolate?run=' + encodeURIComponent($('vae-run').value) + '&a=' + $('vae-a').value + '&b=' + $('vae-b').value;
};

// GAN: each seed is a grid of 16 latent points
$('gan-seed').oninput = () => { $('gan-seed-v').textContent = $('gan-seed').value; ganSample(); };
$('gan-run').onchange = ganSample;
function ganSample() { if ($('gan-run').value) $('gan-img').src = '/api/gan/sample?run=' + encodeURIComponent($('gan-run').value) + '&seed=' + $('gan-seed').value; }

async function loadRuns() {
  const runs = await api('GET', '/api/runs');
  $('runs-list').innerHTML = runs.length ? '' : 'no runs yet';
  for (const r of runs.reverse()) {
    const d = document.createElement('div');
    const last = r.metrics[r.metrics.length - 1];
    d.innerHTML = '<h3>' + r.name + '</h3><div>' + r.system + (last ? ': ' + Object.entries(last).slice(0, 5).map(([k, v]) => k + ' ' + (typeof v === 'number' ? +v.toPrecision(4) : v)).join(', ') : '') + '</div>';
    const box = document.createElement('div'); box.className = 'imgs';
    for (const f of r.images.slice(-6)) { const i = document.createElement('img'); i.src = fileUrl(f); box.append(i); }
    d.append(box); $('runs-list').append(d);
  }
}
drawPlane(); refreshImages(); refreshModels();
</script>
</body></html>
`;
