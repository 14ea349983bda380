// Finds the libtorch to build against. One rule (docs/engines.md):
//   LOOM_LIBTORCH=system    Debian's libtorch-dev under /usr
//   LOOM_LIBTORCH=pytorch   the libtorch inside the PyTorch of $LOOM_PYTHON (default python3),
//                           with that build's C++ ABI flag, as tch-rs's LIBTORCH_USE_PYTORCH
//   LOOM_LIBTORCH=<folder>  an unpacked libtorch (include/ and lib/); LIBTORCH=<folder> is the same
//   neither set             system if installed, else pytorch
// Prints what it found as JSON when run directly.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Thrown with a sentence the build prints as it is. */
export class LibtorchError extends Error {}

function fromRoot(root, source) {
  const include = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  const what = source === 'pytorch' ? `PyTorch's folder ${root}` : `the libtorch folder ${root}`;
  if (!existsSync(root)) throw new LibtorchError(`${what} does not exist.`);
  if (!existsSync(path.join(include, 'ATen', 'ATen.h'))) {
    throw new LibtorchError(`${what} has no C++ headers (include/ATen/ATen.h).`);
  }
  if (!existsSync(path.join(lib, 'libtorch_cpu.so')) && !existsSync(path.join(lib, 'libtorch.so'))) {
    throw new LibtorchError(`${what} has no libtorch library (lib/libtorch_cpu.so).`);
  }
  return { source, root, include: [include, path.join(include, 'torch', 'csrc', 'api', 'include')], lib };
}

function system() {
  const include = '/usr/include';
  if (!existsSync(path.join(include, 'ATen', 'ATen.h'))) return null;
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    if (existsSync(path.join(lib, 'libtorch_cpu.so'))) {
      return {
        source: 'system',
        root: '/usr',
        include: [include, path.join(include, 'torch', 'csrc', 'api', 'include')],
        lib,
      };
    }
  }
  return null;
}

// PyTorch says where it lives and which C++ ABI it was built with.
function pytorch(required) {
  const py = process.env.LOOM_PYTHON || 'python3';
  let answer;
  try {
    answer = execFileSync(
      py,
      [
        '-c',
        'import json, os, torch; print(json.dumps({"dir": os.path.dirname(torch.__file__), ' +
          '"version": torch.__version__, "abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI)}))',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, PYTHONWARNINGS: 'ignore' } },
    );
  } catch {
    if (!required) return null;
    throw new LibtorchError(`${py} cannot import torch (install PyTorch, or set LOOM_PYTHON to a Python that has it).`);
  }
  const line = answer.trim().split('\n').pop();
  const t = JSON.parse(line);
  const found = fromRoot(t.dir, 'pytorch');
  found.python = py;
  found.pythonVersion = t.version;
  found.cxx11Abi = t.abi;
  return found;
}

// A folder's C++ ABI flag must match its library's: pre-cxx11 builds have no __cxx11 symbols.
// LIBTORCH_CXX11_ABI=0|1 (tch-rs's name) overrides the guess.
function usesCxx11Abi(lib) {
  const forced = process.env.LIBTORCH_CXX11_ABI;
  if (forced === '0' || forced === '1') return forced === '1';
  const c10 = path.join(lib, 'libc10.so');
  if (!existsSync(c10)) return true;
  return readFileSync(c10).includes('__cxx11');
}

// 1.13 defines the version in torch/version.h; 2.x moved it to torch/headeronly/version.h.
function version(include) {
  for (const dir of include) {
    for (const file of ['torch/version.h', 'torch/headeronly/version.h']) {
      const p = path.join(dir, file);
      if (!existsSync(p)) continue;
      const text = readFileSync(p, 'utf8');
      const part = (k) => (text.match(new RegExp(`#define TORCH_VERSION_${k}\\s+(\\d+)`)) ?? [])[1];
      if (part('MAJOR') !== undefined) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
    }
  }
  return 'unknown';
}

/** What LOOM_LIBTORCH and LIBTORCH ask for: 'system', 'pytorch', a folder, or null (the default order). */
export function requestedLibtorch(env = process.env) {
  const asked = env.LOOM_LIBTORCH?.trim();
  if (asked) return asked === 'system' || asked === 'pytorch' ? asked : path.resolve(asked);
  if (env.LIBTORCH?.trim()) return path.resolve(env.LIBTORCH.trim());
  return null;
}

/** The libtorch to build against, or null when none is installed and none was asked for. */
export function findLibtorch() {
  const asked = requestedLibtorch();
  let found;
  if (asked === 'system') {
    found = system();
    if (!found) {
      throw new LibtorchError(
        "LOOM_LIBTORCH=system but Debian's libtorch is not installed (sudo apt-get install libtorch-dev).",
      );
    }
  } else if (asked === 'pytorch') {
    found = pytorch(true);
  } else if (asked) {
    found = fromRoot(asked, 'LIBTORCH');
  } else {
    found = system() ?? pytorch(false);
  }
  if (!found) return null;
  found.cuda = readdirSync(found.lib).includes('libtorch_cuda.so');
  found.cxx11Abi ??= usesCxx11Abi(found.lib);
  found.version = version(found.include);
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(JSON.stringify(findLibtorch(), null, 2));
  } catch (e) {
    if (!(e instanceof LibtorchError)) throw e;
    console.error(`loom: ${e.message}`);
    process.exit(1);
  }
}
