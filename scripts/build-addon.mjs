// Compiles native/loom.cc against the libtorch that find-libtorch.mjs finds (LOOM_LIBTORCH,
// docs/engines.md). Plain g++ rather than node-gyp: libtorch needs RTTI and exceptions, and
// the flags stay visible here. The addon goes to build/, or to the folder LOOM_ADDON_DIR or
// `--out <folder>` names (relative to the package root), so that addons for two libtorches
// can sit side by side; src/torch/native.ts loads from the same LOOM_ADDON_DIR.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch, LibtorchError } from './find-libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--out');
const outDir = path.resolve(
  root,
  (outFlag >= 0 ? process.argv[outFlag + 1] : undefined) ?? (process.env.LOOM_ADDON_DIR || 'build'),
);
const out = path.join(outDir, 'loom.node');
const source = path.join(root, 'native', 'loom.cc');

function nodeInclude() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  const dir = candidates.find((d) => existsSync(path.join(d, 'node_api.h')));
  if (!dir) throw new Error(`Node's C headers (node_api.h) were not found in ${candidates.join(', ')}`);
  return dir;
}

let torch;
try {
  torch = findLibtorch();
} catch (e) {
  if (!(e instanceof LibtorchError)) throw e;
  console.error(`loom: ${e.message}`);
  process.exit(1);
}
const glooHeadersPresent = () =>
  [...(torch?.include ?? []), '/usr/include', '/usr/local/include'].some((d) =>
    existsSync(path.join(d, 'gloo', 'algorithm.h')),
  );
if (!torch) {
  console.error(
    'loom: libtorch was not found. On Debian: sudo apt-get install libtorch-dev libopenblas0-openmp; ' +
      'or pip install torch and set LOOM_LIBTORCH=pytorch; or set LOOM_LIBTORCH to an unpacked libtorch (docs/engines.md).',
  );
  process.exit(1);
}

// libtorch's OpenMP workers and OpenBLAS's pthreads are two thread pools on the same cores:
// OpenMP workers that spin while idle took the cores from OpenBLAS's threads (the char LSTM
// step ran 3x slower), so Loom had to make them sleep, which costs the convolution nets.
// Debian's OpenMP build of OpenBLAS runs in libgomp's pool, the one libtorch uses: linked
// here ahead of libtorch, it is the BLAS libtorch gets (its sonames are then taken), and
// OpenMP can keep its default short spin (docs/benchmarks.md, "Parity"). Only for Debian's
// libtorch: a PyTorch wheel brings its own OpenMP runtime and BLAS.
const OPENMP_BLAS_LIBS = ['libopenblas.so.0', 'libblas.so.3', 'liblapack.so.3'];
function openmpBlasDir() {
  if (torch.source !== 'system' || process.env.LOOM_BLAS === 'system') return null;
  const dir = path.join(torch.lib, 'openblas-openmp');
  return OPENMP_BLAS_LIBS.every((l) => existsSync(path.join(dir, l))) ? dir : null;
}
const blasDir = openmpBlasDir();

// Distributed training needs Gloo's headers (Debian: libgloo-dev); without them the addon
// builds without it and `loom launch` says so. PyTorch's wheels bundle Gloo without its
// headers; Debian's serve, since c10d's headers hold Gloo's types only behind pointers.
const glooHeaders = glooHeadersPresent();

// DDP's Reducer (gradient buckets all-reduced while the backward pass runs) needs c10d's
// reducer.hpp with the constructor the shim calls (2.x's, with bucket_bytes_cap_list) and the
// distributed autograd headers it includes, which Debian's 1.13 package lacks. Without it,
// gradients are averaged in one bucket after the backward pass.
function reducerPresent() {
  if (!glooHeaders) return false;
  const find = (rel) => torch.include.map((d) => path.join(d, rel)).find((f) => existsSync(f));
  const header = find('torch/csrc/distributed/c10d/reducer.hpp');
  return (
    !!header &&
    !!find('torch/csrc/distributed/autograd/context/context.h') &&
    /bucket_bytes_cap_list/.test(readFileSync(header, 'utf8'))
  );
}
const reducer = reducerPresent();

const require = createRequire(import.meta.url);
const napiInclude = path.dirname(require.resolve('node-addon-api/package.json'));
// PyTorch's own extensions build with C++20 from 2.12 on, and its headers need it (2.13's use
// C++20 bit-field initialisers; 2.14's stop with #error under C++17); older ones are C++17.
const [major, minor] = torch.version.split('.').map(Number);
const cxxStd = major > 2 || (major === 2 && minor >= 12) ? 'c++20' : 'c++17';
const args = [
  `-std=${cxxStd}`,
  '-O2',
  '-fPIC',
  '-shared',
  '-fvisibility=hidden',
  `-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi ? 1 : 0}`,
  // NAPI_EXPERIMENTAL: finalizers that call no JS run inside the GC, not on the event loop.
  '-DNAPI_EXPERIMENTAL',
  '-DNAPI_CPP_EXCEPTIONS',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  '-Wno-deprecated-declarations',
  '-Wno-unused-parameter',
  ...(glooHeaders ? ['-DLOOM_DIST', '-DUSE_C10D_GLOO'] : []),
  ...(reducer ? ['-DLOOM_REDUCER'] : []),
  `-I${nodeInclude()}`,
  `-I${napiInclude}`,
  ...torch.include.map((d) => `-I${d}`),
  source,
  '-o',
  out,
  ...(blasDir
    ? [
        `-Wl,-rpath,${blasDir}`,
        '-Wl,--no-as-needed',
        ...OPENMP_BLAS_LIBS.map((l) => path.join(blasDir, l)),
        '-Wl,--as-needed',
      ]
    : []),
  `-L${torch.lib}`,
  `-Wl,-rpath,${torch.lib}`,
  // Without --no-as-needed the linker drops libtorch_cuda and CUDA is silently absent.
  ...(torch.cuda ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-Wl,--as-needed'] : []),
  '-ltorch',
  '-ltorch_cpu',
  '-lc10',
];
// Rebuilt when the source, the libtorch or any flag changes.
const stamp = JSON.stringify({ torch, src: statSync(source).mtimeMs, args });
const stampFile = out + '.stamp';
if (
  existsSync(out) &&
  existsSync(stampFile) &&
  readFileSync(stampFile, 'utf8') === stamp &&
  !process.argv.includes('--force')
) {
  console.log(`loom: addon up to date (libtorch ${torch.version}, ${torch.source})`);
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
console.log(
  `loom: building the addon against libtorch ${torch.version} (${torch.source}, ${torch.lib})${glooHeaders ? `, with Gloo${reducer ? ' and the Reducer' : ''}` : ', without Gloo (no distributed training)'}${blasDir ? ', with OpenBLAS on OpenMP' : ''}`,
);
const started = Date.now();
try {
  execFileSync(process.env.CXX ?? 'g++', args, { stdio: 'inherit' });
} catch {
  console.error(
    `loom: the addon did not compile against libtorch ${torch.version} in ${torch.root} (the compiler's errors are above).`,
  );
  process.exit(1);
}
writeFileSync(stampFile, stamp);
// Read by src/torch/native.ts before it loads the addon (OpenMP's waiting depends on the
// BLAS) and by `loom info` (which libtorch this addon was built against).
writeFileSync(
  path.join(outDir, 'addon.json'),
  JSON.stringify({
    blas: blasDir ? 'openblas-openmp' : 'system',
    libtorch: {
      source: torch.source,
      root: torch.root,
      lib: torch.lib,
      version: torch.version,
      cuda: torch.cuda,
      // The Python whose PyTorch this is, for tests that meet it (a mixed Loom and PyTorch group).
      ...(torch.python ? { python: torch.python } : {}),
    },
  }) + '\n',
);
console.log(`loom: built ${path.relative(root, out)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
