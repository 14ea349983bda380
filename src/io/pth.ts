// PyTorch .pth / torch.save files (the ZIP format): state dicts load by name.
// libtorch 1.13's pickle_load returns None for OrderedDict (pytorch #100741), so the
// archive's data.pkl is parsed here and tensors are built from its data/N records.
import { readFileOrExplain } from './files.js';
import { keep, tidy, type DType, type Tensor } from '../torch/index.js';
import { readZip } from './zip.js';
import { PickleCall, PickleGlobal, unpickle } from './pickle.js';
import { rawTensor } from './safetensors.js';

const STORAGE_DTYPES: Record<string, [DType, number]> = {
  FloatStorage: ['float32', 4],
  DoubleStorage: ['float64', 8],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ShortStorage: ['int16', 2],
  CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

interface Storage {
  key: string;
  dtype: DType;
  itemSize: number;
  numel: number;
}

/** Reads a torch.save'd state dict into tensors by name (nested dicts become dotted names). */
export function loadPth(path: string): Map<string, Tensor> {
  const buf = readFileOrExplain(path);
  if (buf.length >= 2 && buf[0] === 0x80 && buf[1] === 0x02 && !buf.subarray(0, 4).equals(Buffer.from('PK\x03\x04'))) {
    throw new Error(`${path} uses PyTorch's legacy (pre-1.6) format; re-save it with torch.save in a newer PyTorch`);
  }
  const zip = readZip(buf, path);
  const pkl = [...zip.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new Error(`${path} is a ZIP file but not a torch.save archive (no data.pkl)`);
  const root = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const storages = new Map<string, Tensor>();
  const made: Tensor[] = [];
  const storageTensor = (s: Storage): Tensor => {
    let t = storages.get(s.key);
    if (!t) {
      const entry = zip.get(`${root}data/${s.key}`);
      if (!entry) throw new Error(`${path} lacks the record data/${s.key}`);
      const bytes = entry.read();
      const n = s.numel * s.itemSize;
      if (bytes.length < n)
        throw new Error(`${path}: record data/${s.key} is shorter than its storage (truncated file?)`);
      t = rawTensor(bytes.subarray(0, n), s.dtype, [s.numel]);
      storages.set(s.key, t);
    }
    return t;
  };
  return tidy(() => {
    const obj = unpickle(
      zip.get(pkl)!.read(),
      {
        persistentLoad(pid) {
          const [kind, type, key, , numel] = pid as [string, PickleGlobal, string, string, number];
          if (kind !== 'storage' || !(type instanceof PickleGlobal)) throw new Error(`${path}: unknown persistent id`);
          const dt = STORAGE_DTYPES[type.name];
          if (!dt) throw new Error(`${path}: unsupported storage type ${type.name}`);
          return { key, dtype: dt[0], itemSize: dt[1], numel } satisfies Storage;
        },
        call(fn, args) {
          if (fn.fullName === 'torch._utils._rebuild_tensor_v2' || fn.fullName === 'torch._utils._rebuild_tensor') {
            const [storage, offset, size, stride] = args as [Storage, number, number[], number[]];
            const t = storageTensor(storage).asStrided(size, stride, offset).contiguous();
            made.push(t);
            return t;
          }
          if (fn.fullName === 'torch._utils._rebuild_parameter') return args[0];
          return undefined;
        },
      },
      path,
    );
    const out = new Map<string, Tensor>();
    const walk = (v: unknown, prefix: string) => {
      if (made.includes(v as Tensor)) out.set(prefix, keep(v as Tensor));
      else if (v instanceof Map) for (const [k, x] of v) walk(x, prefix ? `${prefix}.${String(k)}` : String(k));
      else if (v instanceof PickleCall && v.state instanceof Map) walk(v.state, prefix);
    };
    walk(obj, '');
    if (out.size === 0) throw new Error(`${path} holds no tensors that Loom can read (is it a state_dict?)`);
    return out;
  });
}
