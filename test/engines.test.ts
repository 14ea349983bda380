// Engines: which libtorch the addon builds against (LOOM_LIBTORCH), what differs between 1.13
// and 2.x and is settled in one place (native/loom.cc's compat section, the ops' schemas),
// and what `loom info` says of it. Runs against whichever addon LOOM_ADDON_DIR names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as T from '../src/torch/index.js';
import { native, addonBuild } from '../src/torch/native.js';
import { cpuBf16Flags } from '../src/cli/info.js';
import { repoRoot } from './helpers.js';

const script = (name: string) => path.join(repoRoot, 'scripts', name);
const [major, minor] = native.info().torchVersion.split('.').map(Number);
const atLeast = (ma: number, mi: number) => major > ma || (major === ma && minor >= mi);

test('LOOM_LIBTORCH picks system, pytorch or a folder; LIBTORCH names a folder; LOOM_LIBTORCH wins', async () => {
  const { requestedLibtorch } = await import(pathToFileURL(script('find-libtorch.mjs')).href);
  assert.equal(requestedLibtorch({}), null);
  assert.equal(requestedLibtorch({ LOOM_LIBTORCH: 'system' }), 'system');
  assert.equal(requestedLibtorch({ LOOM_LIBTORCH: 'pytorch' }), 'pytorch');
  assert.equal(requestedLibtorch({ LOOM_LIBTORCH: '/opt/libtorch' }), '/opt/libtorch');
  assert.equal(requestedLibtorch({ LIBTORCH: '/opt/libtorch' }), '/opt/libtorch');
  assert.equal(requestedLibtorch({ LIBTORCH: '/opt/libtorch', LOOM_LIBTORCH: 'system' }), 'system');
  assert.equal(requestedLibtorch({ LOOM_LIBTORCH: 'rel/torch' }), path.resolve('rel/torch'));
});

// The build script's answer for an environment: its exit status and what it printed.
function build(env: Record<string, string>, out: string) {
  const r = spawnSync(process.execPath, [script('build-addon.mjs'), '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, LIBTORCH: '', LOOM_LIBTORCH: '', ...env },
  });
  return { status: r.status, stderr: r.stderr.trim() };
}

test('a libtorch folder without headers or libraries, or a Python without torch, is refused in one sentence', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'loom-libtorch-'));
  const out = path.join(dir, 'out');
  try {
    let r = build({ LOOM_LIBTORCH: dir }, out);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `loom: the libtorch folder ${dir} has no C++ headers (include/ATen/ATen.h).`);
    mkdirSync(path.join(dir, 'include', 'ATen'), { recursive: true });
    writeFileSync(path.join(dir, 'include', 'ATen', 'ATen.h'), '');
    r = build({ LIBTORCH: dir }, out);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `loom: the libtorch folder ${dir} has no libtorch library (lib/libtorch_cpu.so).`);
    r = build({ LOOM_LIBTORCH: path.join(dir, 'nowhere') }, out);
    assert.equal(r.stderr, `loom: the libtorch folder ${path.join(dir, 'nowhere')} does not exist.`);
    r = build({ LOOM_LIBTORCH: 'pytorch', LOOM_PYTHON: path.join(dir, 'python3') }, out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^loom: \S+python3 cannot import torch \(install PyTorch, or set LOOM_PYTHON [^\n]*\)\.$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the running addon says which libtorch it was built against, and it is the one loaded', async () => {
  const { findLibtorch } = await import(pathToFileURL(script('find-libtorch.mjs')).href);
  const built = addonBuild.libtorch;
  assert.ok(built, 'build-addon.mjs wrote the libtorch into addon.json');
  assert.ok(['system', 'pytorch', 'LIBTORCH'].includes(built.source), built.source);
  assert.equal(built.version, native.info().torchVersion);
  const loaded = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((l) => l.split(/\s+/)[5])
    .find((p) => p && /libtorch_cpu\.so/.test(p));
  assert.ok(loaded?.startsWith(built.lib), `${loaded} is under ${built.lib}`);
  // What find-libtorch.mjs answers for the same request is what the addon was built from.
  const request: Record<string, string> =
    built.source === 'LIBTORCH'
      ? { LOOM_LIBTORCH: built.root }
      : built.source === 'pytorch'
        ? { LOOM_LIBTORCH: 'pytorch', LOOM_PYTHON: built.python ?? 'python3' }
        : { LOOM_LIBTORCH: 'system' };
  const saved = { ...process.env };
  try {
    Object.assign(process.env, request);
    const found = findLibtorch();
    assert.equal(found.root, built.root);
    assert.equal(found.version, built.version);
    assert.equal(found.cxx11Abi, native.info().cxx11Abi, 'the C++ ABI flag the addon was compiled with');
  } finally {
    for (const k of Object.keys(request)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('compat: seeding (at::manual_seed on every libtorch) repeats and separates the draws', () => {
  T.manualSeed(1234);
  const a = T.randn([5]).toFlatArray();
  const ai = T.randint(0, 1000, [5]).toFlatArray();
  T.manualSeed(1234);
  assert.deepEqual(T.randn([5]).toFlatArray(), a);
  assert.deepEqual(T.randint(0, 1000, [5]).toFlatArray(), ai);
  T.manualSeed(1235);
  assert.notDeepEqual(T.randn([5]).toFlatArray(), a);
});

test("compat: Loom's CPU allocator serves large tensors on every libtorch, and copies (copy_data, 2.3+)", () => {
  const n = 1 << 16; // 256 KiB of float32: a block of its own
  const before = T.cpuMemory();
  const x = T.arange(0, n, 1, { dtype: 'float32' });
  const during = T.cpuMemory();
  assert.ok(during.largeInUse >= before.largeInUse + n * 4, 'the tensor came from the large-block allocator');
  assert.equal(during.maps + during.reuses, before.maps + before.reuses + 1);
  if (atLeast(2, 3)) {
    // A lazy clone shares the storage until a write; the write materialises it through the
    // allocator's clone(), which calls the copy_data() that 2.3 made every allocator define.
    const y = T.callOp('aten::_lazy_clone', x) as T.Tensor;
    T.callOp('aten::add_.Scalar', y, 1);
    const xs = x.toFlatArray();
    const ys = y.toFlatArray();
    assert.equal(xs[n - 1], n - 1);
    assert.equal(ys[0], 1);
    assert.equal(ys[n - 1], n);
    y.dispose();
  } else {
    assert.throws(() => T.callOp('aten::_lazy_clone', x), /_lazy_clone/);
  }
  x.dispose();
});

// The wrappers in ops.generated.ts were generated from 1.13's schemas (the comment above each
// holds the schema) and pass arguments by position. The running libtorch's schema must take,
// at each position, an argument of the same name whose JS type accepts what the wrapper passes
// (2.x's SymInt for int, and Scalar? for int? in var/std's correction, take the same numbers),
// and return the same.
test("every generated op's arguments mean the same to the running libtorch's schema", async () => {
  const gen = await import(pathToFileURL(script('gen-ops.mjs')).href);
  const source = readFileSync(path.join(repoRoot, 'src', 'torch', 'ops.generated.ts'), 'utf8');
  const generated = new Map<string, string>();
  for (const m of source.matchAll(/^\/\*\* (aten::\S+?)(\(.*) \*\/$/gm)) generated.set(m[1], m[1] + m[2]);
  const members = (ts: string) => new Set(ts.split(' | '));
  const problems: string[] = [];
  let compared = 0;
  for (const [name, overload] of gen.opsList() as [string, string][]) {
    const full = overload ? `${name}.${overload}` : name;
    const then = generated.get(full);
    assert.ok(then, `${full} is in ops.generated.ts`);
    let now: string;
    try {
      now = native.schema(name, overload);
    } catch {
      problems.push(`${full}: not in libtorch ${native.info().torchVersion}`);
      continue;
    }
    const a = gen.parseSchema(then);
    const b = gen.parseSchema(now);
    if (b.args.length < a.args.length) problems.push(`${full}: ${b.args.length} arguments, was ${a.args.length}`);
    a.args.forEach((arg: { name: string; type: string }, i: number) => {
      const live = b.args[i];
      if (!live) return;
      if (live.name !== arg.name) problems.push(`${full}: argument ${i} is ${live.name}, was ${arg.name}`);
      const was = gen.argType(arg.type, 'x');
      const is = gen.argType(live.type, 'x');
      if (was === null || is === null) {
        if (was !== is) problems.push(`${full}: ${arg.name} is ${live.type}, was ${arg.type}`);
        return;
      }
      const accepts = members(is.ts);
      if (was.conv !== is.conv || ![...members(was.ts)].every((t) => accepts.has(t))) {
        problems.push(`${full}: ${arg.name} is ${live.type}, was ${arg.type}`);
      }
    });
    // Arguments 2.x added after the old ones need defaults, since the wrappers leave them out.
    for (const extra of b.args.slice(a.args.length)) {
      if (!extra.hasDefault && !extra.type.endsWith('?'))
        problems.push(`${full}: new argument ${extra.name} has no default`);
    }
    const rets = (s: { returns: { type: string }[] }) => s.returns.map((r) => r.type).join(', ');
    if (rets(a) !== rets(b)) problems.push(`${full}: returns ${rets(b)}, was ${rets(a)}`);
    compared++;
  }
  assert.deepEqual(problems, []);
  assert.equal(compared, generated.size);
});

test("the CPU's bf16 units are read from /proc/cpuinfo's flags", () => {
  assert.deepEqual(cpuBf16Flags('processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n'), []);
  assert.deepEqual(cpuBf16Flags('flags\t\t: fpu avx512_bf16 amx_tile amx_bf16\nbugs\t\t: avx512_bf16x\n'), [
    'amx_bf16',
    'avx512_bf16',
  ]);
  assert.deepEqual(cpuBf16Flags(''), []);
});

test("loom info --json names the libtorch (source, version, CUDA) and the CPU's bf16 units", () => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'info', '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const i = JSON.parse(r.stdout);
  assert.equal(i.libtorch.source, addonBuild.libtorch?.source);
  assert.equal(i.libtorch.root, addonBuild.libtorch?.root);
  assert.equal(i.libtorch.version, native.info().torchVersion);
  assert.equal(i.libtorch.cuda, addonBuild.libtorch?.cuda);
  const flags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:.*$/m) ?? [''])[0].split(/\s+/);
  const expected = ['amx_bf16', 'avx512_bf16'].filter((f) => flags.includes(f));
  assert.deepEqual(i.cpu, { bf16: expected.length > 0, bf16Flags: expected });
  // 2.x ships c10d's Reducer with the headers it needs; Debian's 1.13 does not.
  const twoX = Number(i.libtorch.version.split('.')[0]) >= 2;
  assert.equal(
    i.dataParallel,
    !native.distInit ? 'none' : twoX ? 'all-reduced during backward' : 'averaged after backward',
  );
  const text = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'info'], {
    encoding: 'utf8',
  }).stdout;
  assert.match(
    text,
    new RegExp(`libtorch  ${i.libtorch.version} \\(${i.libtorch.source}, ${i.libtorch.cuda ? 'CUDA' : 'no CUDA'}\\)`),
  );
  assert.match(text, new RegExp(`bf16 CPU  ${expected.length ? 'yes' : 'no'}`));
});
