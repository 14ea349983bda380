// A small HDF5 reader: enough for Keras weight files as h5py writes them by default
// (superblock 0/1, version-1 object headers, symbol-table groups, contiguous or compact
// float datasets). Anything else gets a sentence saying what is not supported.
import { readFileOrExplain } from './files.js';
import { halfToFloat } from '../torch/float16.js';

export interface H5Dataset {
  /** Path inside the file, e.g. "block1_conv1/block1_conv1/kernel:0". */
  path: string;
  shape: number[];
  data: Float32Array;
}

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

class Reader {
  offsetSize = 8;
  lengthSize = 8;
  constructor(
    readonly buf: Buffer,
    readonly file: string,
  ) {}

  fail(what: string): never {
    throw new Error(`cannot read HDF5 file ${this.file}: ${what}`);
  }
  check(pos: number, n: number): void {
    if (pos < 0 || pos + n > this.buf.length) this.fail('it is truncated or corrupt');
  }
  uint(pos: number, size: number): number {
    this.check(pos, size);
    if (size === 1) return this.buf[pos];
    if (size === 2) return this.buf.readUInt16LE(pos);
    if (size === 4) return this.buf.readUInt32LE(pos);
    if (size === 8) return Number(this.buf.readBigUInt64LE(pos));
    return this.fail(`unsupported field size ${size}`);
  }
  offset(pos: number): number {
    return this.uint(pos, this.offsetSize);
  }
  length(pos: number): number {
    return this.uint(pos, this.lengthSize);
  }
  tag(pos: number, s: string): boolean {
    this.check(pos, 4);
    return this.buf.toString('latin1', pos, pos + 4) === s;
  }
  cString(pos: number): string {
    const end = this.buf.indexOf(0, pos);
    if (end < 0) this.fail('it is truncated or corrupt');
    return this.buf.toString('utf8', pos, end);
  }
}

interface Message {
  type: number;
  pos: number;
  size: number;
}

/** Messages of a version-1 object header, following continuation blocks. */
function headerMessages(r: Reader, addr: number): Message[] {
  const version = r.uint(addr, 1);
  if (version !== 1) {
    return r.fail(
      r.tag(addr, 'OHDR')
        ? 'it uses version-2 object headers (saved with libver="latest"); re-save it with h5py\'s defaults'
        : `unknown object header at ${addr}`,
    );
  }
  const count = r.uint(addr + 2, 2);
  const blocks: [number, number][] = [[addr + 16, r.uint(addr + 8, 4)]];
  const out: Message[] = [];
  for (let b = 0; b < blocks.length && out.length < count + 64; b++) {
    const [start, size] = blocks[b];
    let p = start;
    const end = p + size;
    while (p + 8 <= end) {
      const type = r.uint(p, 2);
      const msize = r.uint(p + 2, 2);
      r.check(p + 8, msize);
      if (type === 0x10) blocks.push([r.offset(p + 8), r.length(p + 8 + r.offsetSize)]);
      else out.push({ type, pos: p + 8, size: msize });
      p += 8 + msize;
    }
  }
  return out;
}

/** Children (name → object header address) of a symbol-table group. */
function groupChildren(r: Reader, btree: number, heap: number): Map<string, number> {
  if (!r.tag(heap, 'HEAP')) r.fail("a group's name heap is missing");
  const heapData = r.offset(heap + 8 + 2 * r.lengthSize);
  const out = new Map<string, number>();
  const visit = (node: number, depth: number): void => {
    if (depth > 32) r.fail('group tree too deep (corrupt file)');
    if (!r.tag(node, 'TREE')) r.fail("a group's B-tree node is missing");
    const level = r.uint(node + 5, 1);
    const used = r.uint(node + 6, 2);
    let p = node + 8 + 2 * r.offsetSize + r.lengthSize; // first child (after key 0)
    for (let i = 0; i < used; i++) {
      const child = r.offset(p);
      if (level > 0) visit(child, depth + 1);
      else {
        if (!r.tag(child, 'SNOD')) r.fail("a group's symbol node is missing");
        const n = r.uint(child + 6, 2);
        for (let k = 0; k < n; k++) {
          const e = child + 8 + k * (2 * r.offsetSize + 24);
          out.set(r.cString(heapData + r.offset(e)), r.offset(e + r.offsetSize));
        }
      }
      p += r.offsetSize + r.lengthSize;
    }
  };
  visit(btree, 0);
  return out;
}

function readDataset(r: Reader, msgs: Message[], path: string): H5Dataset | null {
  const space = msgs.find((m) => m.type === 0x1);
  const type = msgs.find((m) => m.type === 0x3);
  const layout = msgs.find((m) => m.type === 0x8);
  if (!space || !type || !layout) return null;
  if (msgs.some((m) => m.type === 0xb)) r.fail(`${path} is compressed; only uncompressed datasets are read`);
  // Dataspace: versions 1 and 2.
  const sv = r.uint(space.pos, 1);
  const rank = r.uint(space.pos + 1, 1);
  const dimsAt = space.pos + (sv === 1 ? 8 : 4);
  const shape = Array.from({ length: rank }, (_, i) => r.length(dimsAt + i * r.lengthSize));
  const n = shape.reduce((a, b) => a * b, 1);
  // Datatype: floating point, little-endian, 2, 4 or 8 bytes.
  const cls = r.uint(type.pos, 1) & 0x0f;
  const bits = r.uint(type.pos + 1, 1);
  const size = r.uint(type.pos + 4, 4);
  if (cls !== 1) return null; // strings and integers are not weights
  if (bits & 1) r.fail(`${path} is big-endian`);
  // Layout (version 3): compact or contiguous.
  const lv = r.uint(layout.pos, 1);
  if (lv !== 3) r.fail(`${path} uses data layout version ${lv}`);
  const lclass = r.uint(layout.pos + 1, 1);
  let at: number;
  if (lclass === 0) at = layout.pos + 4;
  else if (lclass === 1) at = r.offset(layout.pos + 2);
  else return r.fail(`${path} is chunked; only contiguous datasets are read`);
  const data = new Float32Array(n);
  if (n > 0 && at >= 0xffffffffffff) r.fail(`${path} has no data written`);
  r.check(at, n * size);
  for (let i = 0; i < n; i++) {
    const p = at + i * size;
    data[i] =
      size === 4 ? r.buf.readFloatLE(p) : size === 8 ? r.buf.readDoubleLE(p) : halfToFloat(r.buf.readUInt16LE(p));
  }
  return { path, shape, data };
}

/** Every floating-point dataset in the file, with its path. */
export function readH5Datasets(file: string): H5Dataset[] {
  const buf = readFileOrExplain(file);
  const r = new Reader(buf, file);
  // The superblock sits at 0, 512, 1024, ... (a user block may precede it).
  let sb = -1;
  for (let p = 0; p + 8 <= buf.length && p <= 1 << 20; p = p ? p * 2 : 512) {
    if (buf.subarray(p, p + 8).equals(SIGNATURE)) {
      sb = p;
      break;
    }
  }
  if (sb < 0) throw new Error(`${file} is not an HDF5 file`);
  const version = r.uint(sb + 8, 1);
  if (version > 1)
    r.fail(`superblock version ${version} (saved with libver="latest"); re-save it with h5py's defaults`);
  r.offsetSize = r.uint(sb + 13, 1);
  r.lengthSize = r.uint(sb + 14, 1);
  const rootEntry = sb + 24 + (version === 1 ? 4 : 0) + 4 * r.offsetSize;
  const rootHeader = r.offset(rootEntry + r.offsetSize);
  const out: H5Dataset[] = [];
  const seen = new Set<number>();
  const walk = (addr: number, path: string): void => {
    if (seen.has(addr)) return;
    seen.add(addr);
    const msgs = headerMessages(r, addr);
    const table = msgs.find((m) => m.type === 0x11);
    if (table) {
      for (const [name, child] of groupChildren(r, r.offset(table.pos), r.offset(table.pos + r.offsetSize))) {
        walk(child, path ? `${path}/${name}` : name);
      }
      return;
    }
    if (msgs.some((m) => m.type === 0x2 || m.type === 0x6))
      r.fail("it uses new-style (link message) groups; re-save it with h5py's defaults");
    const ds = readDataset(r, msgs, path);
    if (ds) out.push(ds);
  };
  walk(rootHeader, '');
  return out;
}
