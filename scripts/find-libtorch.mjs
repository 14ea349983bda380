// Finds the libtorch to build against: $LIBTORCH, else Debian's system paths, else the
// libtorch inside an installed PyTorch. Prints what it found as JSON when run directly.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function fromRoot(root, source) {
  const include = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  if (!existsSync(path.join(include, 'ATen', 'ATen.h'))) return null;
  if (!existsSync(path.join(lib, 'libtorch_cpu.so')) && !existsSync(path.join(lib, 'libtorch.so'))) return null;
  return { source, include: [include, path.join(include, 'torch', 'csrc', 'api', 'include')], lib };
}

function debian() {
  const include = '/usr/include';
  if (!existsSync(path.join(include, 'ATen', 'ATen.h'))) return null;
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    if (existsSync(path.join(lib, 'libtorch_cpu.so'))) {
      return { source: 'system', include: [include, path.join(include, 'torch', 'csrc', 'api', 'include')], lib };
    }
  }
  return null;
}

function python() {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      const dir = execFileSync(py, ['-c', 'import torch, os; print(os.path.dirname(torch.__file__))'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      const found = fromRoot(dir, `python (${py})`);
      if (found) return found;
    } catch {
      // no PyTorch for this interpreter
    }
  }
  return null;
}

// The C++ ABI flag must match the library's: pre-cxx11 builds have no __cxx11 symbols.
function usesCxx11Abi(lib) {
  const c10 = path.join(lib, 'libc10.so');
  if (!existsSync(c10)) return true;
  return readFileSync(c10).includes('__cxx11');
}

function version(include) {
  for (const dir of include) {
    const file = path.join(dir, 'torch', 'version.h');
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const part = (k) => (text.match(new RegExp(`TORCH_VERSION_${k}\\s+(\\d+)`)) ?? [])[1];
    return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  }
  return 'unknown';
}

export function findLibtorch() {
  const env = process.env.LIBTORCH;
  let found = null;
  if (env) {
    found = fromRoot(env, 'LIBTORCH');
    if (!found) throw new Error(`LIBTORCH=${env} does not hold include/ATen/ATen.h and lib/libtorch_cpu.so`);
  }
  found = found ?? debian() ?? python();
  if (!found) return null;
  const libs = readdirSync(found.lib);
  found.cuda = libs.includes('libtorch_cuda.so');
  found.cxx11Abi = usesCxx11Abi(found.lib);
  found.version = version(found.include);
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(findLibtorch(), null, 2));
}
