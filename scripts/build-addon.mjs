// Compiles native/loom.cc against the libtorch that find-libtorch.mjs finds.
// Plain g++ rather than node-gyp: libtorch needs RTTI and exceptions, and the flags
// stay visible here.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build', 'loom.node');
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

const torch = findLibtorch();
const glooHeadersPresent = () =>
  [...(torch?.include ?? []), '/usr/include', '/usr/local/include'].some((d) =>
    existsSync(path.join(d, 'gloo', 'algorithm.h')),
  );
if (!torch) {
  console.error(
    'loom: libtorch was not found. On Debian: sudo apt-get install libtorch-dev libopenblas0-openmp; ' +
      'or set LIBTORCH to an unpacked libtorch (see README).',
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

const stamp = JSON.stringify({ torch, src: statSync(source).mtimeMs, gloo: glooHeadersPresent(), blasDir });
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

// Distributed training needs Gloo's headers (Debian: libgloo-dev); without them the addon
// builds without it and `loom launch` says so.
const glooHeaders = glooHeadersPresent();

const require = createRequire(import.meta.url);
const napiInclude = path.dirname(require.resolve('node-addon-api/package.json'));
const args = [
  '-std=c++17',
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
mkdirSync(path.dirname(out), { recursive: true });
console.log(
  `loom: building the addon against libtorch ${torch.version} (${torch.source}, ${torch.lib})${glooHeaders ? ', with Gloo' : ', without Gloo (no distributed training)'}${blasDir ? ', with OpenBLAS on OpenMP' : ''}`,
);
execFileSync(process.env.CXX ?? 'g++', args, { stdio: 'inherit' });
writeFileSync(stampFile, stamp);
// Read by src/torch/native.ts before it loads the addon: OpenMP's waiting depends on the BLAS.
writeFileSync(
  path.join(root, 'build', 'addon.json'),
  JSON.stringify({ blas: blasDir ? 'openblas-openmp' : 'system' }) + '\n',
);
console.log(`loom: built ${path.relative(root, out)}`);
