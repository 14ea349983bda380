// Generates src/torch/ops.generated.ts from libtorch's own operator schemas.
// Input: scripts/ops.txt (one aten op per line). The schemas come from the linked
// libtorch through the addon, so the wrappers' types are exactly what it accepts.
// The committed file is generated on 1.13 (Debian's); test/engines.test.ts checks, through
// the parsing exported here, that every wrapper passes what the running libtorch's schema
// takes at each position (2.x renames no argument; its int->SymInt and int?->Scalar? types
// take the same JS numbers).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Splits on commas that are not inside brackets or parentheses.
function splitTop(s) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

export function parseSchema(text) {
  const open = text.indexOf('(');
  let depth = 0;
  let close = open;
  for (; close < text.length; close++) {
    if (text[close] === '(') depth++;
    if (text[close] === ')' && --depth === 0) break;
  }
  const args = [];
  for (const part of splitTop(text.slice(open + 1, close))) {
    if (part === '*') continue;
    const eq = part.indexOf('=');
    const decl = (eq >= 0 ? part.slice(0, eq) : part).trim();
    const name = decl.slice(decl.lastIndexOf(' ') + 1);
    const type = decl
      .slice(0, decl.lastIndexOf(' '))
      .replace(/\(.*?\)/g, '')
      .trim();
    args.push({ name, type, hasDefault: eq >= 0, def: eq >= 0 ? part.slice(eq + 1) : undefined });
  }
  let ret = text
    .slice(close + 1)
    .trim()
    .replace(/^->\s*/, '');
  const rawReturns = ret.startsWith('(') ? splitTop(ret.slice(1, -1)) : [ret];
  const returns = rawReturns
    .filter((r) => r !== '')
    .map((r) => {
      const type = r.split(' ')[0];
      return {
        type: type.replace(/\(.*?\)/g, ''),
        aliasWrite: /\(\w+!\)/.test(type),
        alias: (type.match(/\((\w+)!?\)/) ?? [])[1],
      };
    });
  return { args, returns };
}

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const RESERVED = new Set(['self', 'function', 'default', 'var', 'in', 'new', 'this']);

// TS type and the expression that turns a JS value into what the addon takes.
export function argType(type, name) {
  const optional = type.endsWith('?');
  const base = optional ? type.slice(0, -1) : type;
  const list = base.match(/^(\w+)(\??)\[(\d*)\]$/);
  let ts;
  let conv = name;
  if (list) {
    const [, el, elOpt, n] = list;
    if (el === 'Tensor' && elOpt) [ts, conv] = ['(Tensor | null)[]', `hsOpt(${name})`];
    else if (el === 'Tensor') [ts, conv] = ['Tensor[]', `hs(${name})`];
    else if (el === 'int' || el === 'SymInt') ts = n ? 'number | number[]' : 'number[]';
    else if (el === 'float') ts = 'number | number[]';
    else if (el === 'bool') ts = 'boolean[]';
    else throw new Error(`unsupported list type ${type}`);
  } else {
    switch (base) {
      case 'Tensor':
        ts = 'Tensor';
        conv = optional ? `${name}?.h` : `${name}.h`;
        break;
      case 'int':
      case 'SymInt':
      case 'float':
      case 'Layout':
      case 'MemoryFormat':
        ts = 'number';
        break;
      case 'bool':
        ts = 'boolean';
        break;
      case 'Scalar':
        ts = 'number | boolean';
        break;
      case 'ScalarType':
        ts = 'DType';
        conv = `dtypeCode(${name})`;
        break;
      case 'Device':
      case 'str':
        ts = 'string';
        break;
      case 'Generator':
        return null;
      default:
        throw new Error(`unsupported type ${type}`);
    }
  }
  return { ts: optional ? `${ts} | null` : ts, conv };
}

function returnType(returns) {
  const one = (r) => {
    switch (r.type) {
      case 'Tensor':
        return 'Tensor';
      case 'Tensor[]':
        return 'Tensor[]';
      case 'int':
      case 'float':
      case 'Scalar':
        return 'number';
      case 'bool':
        return 'boolean';
      default:
        throw new Error(`unsupported return ${r.type}`);
    }
  };
  if (returns.length === 0) return 'void';
  if (returns.length === 1) return one(returns[0]);
  return `[${returns.map(one).join(', ')}]`;
}

function returnExpr(returns, args, r) {
  const aliasArg = (ret) => {
    if (!ret.aliasWrite) return null;
    const i = args.findIndex((a) => a.alias === ret.alias && a.aliasWrite);
    return i >= 0 ? args[i].js : null;
  };
  const one = (ret, expr) => {
    const same = aliasArg(ret);
    if (same) return same;
    if (ret.type === 'Tensor') return `wrap(${expr})`;
    if (ret.type === 'Tensor[]') return `wrapAll(${expr})`;
    return expr;
  };
  if (returns.length === 0) return null;
  if (returns.length === 1) return one(returns[0], r);
  return `[${returns.map((ret, i) => one(ret, `${r}[${i}]`)).join(', ')}]`;
}

/** The ops of scripts/ops.txt: [aten name, overload, JS name, flags]. */
export function opsList() {
  const ops = [];
  for (const line of readFileSync(path.join(root, 'scripts', 'ops.txt'), 'utf8').split('\n')) {
    const t = line.replace(/#.*/, '').trim();
    if (!t) continue;
    const [full, js, flags = ''] = t.split(/\s+/);
    const dot = full.indexOf('.', full.indexOf('::'));
    const [opName, overload] = dot >= 0 ? [full.slice(0, dot), full.slice(dot + 1)] : [full, ''];
    ops.push([opName, overload, js, flags]);
  }
  return ops;
}

function generate() {
  const native = createRequire(import.meta.url)(
    path.join(path.resolve(root, process.env.LOOM_ADDON_DIR || 'build'), 'loom.node'),
  );
  const fns = [];
  const methodDecls = [];
  const methodImpls = [];
  for (const [opName, overload, js, flags] of opsList()) {
    const full = overload ? `${opName}.${overload}` : opName;
    const schemaText = native.schema(opName, overload);
    const { args, returns } = parseSchema(schemaText);
    // Alias annotations of arguments, to return `self` itself from in-place ops.
    const rawArgs = splitTop(schemaText.slice(schemaText.indexOf('(') + 1, schemaText.lastIndexOf(') ->'))).filter(
      (a) => a !== '*',
    );
    args.forEach((a, i) => {
      const m = rawArgs[i].match(/^\w+\((\w+)(!?)/);
      a.alias = m?.[1];
      a.aliasWrite = m?.[2] === '!';
      a.js = RESERVED.has(camel(a.name)) ? `${camel(a.name)}_` : camel(a.name);
      a.conv = argType(a.type, a.js);
    });
    // A parameter may be left out in TS only if every later one may be too.
    let tail = true;
    for (let i = args.length - 1; i >= 0; i--) {
      const a = args[i];
      const omittable = a.hasDefault || a.type.endsWith('?') || a.conv === null;
      tail = tail && omittable;
      a.tsOptional = tail;
    }
    const params = args.filter((a) => a.conv).map((a) => `${a.js}${a.tsOptional ? '?' : ''}: ${a.conv.ts}`);
    const callArgs = args.map((a) => (a.conv ? a.conv.conv : 'undefined'));
    while (callArgs.length && callArgs[callArgs.length - 1] === 'undefined') callArgs.pop();
    const handle = `op_${js.replace(/_$/, '_inplace')}`;
    const ret = returnType(returns);
    const expr = returnExpr(returns, args, 'r');
    const call = `call(${handle} ??= op('${opName}', '${overload}')${callArgs.length ? ', ' : ''}${callArgs.join(', ')})`;
    const body =
      expr === null ? `${call};` : expr === 'r' ? `return ${call};` : `const r = ${call};\n  return ${expr};`;
    fns.push(
      `let ${handle}: OpHandle | undefined;\n/** ${schemaText} */\nexport function ${js}(${params.join(', ')}): ${ret} {\n  ${body}\n}`,
    );
    if (flags.includes('m')) {
      if (args[0].type !== 'Tensor') throw new Error(`${full}: a method needs a Tensor first argument`);
      const mParams = params.slice(1);
      const mNames = args
        .slice(1)
        .filter((a) => a.conv)
        .map((a) => a.js);
      methodDecls.push(`    /** ${schemaText} */\n    ${js}(${mParams.join(', ')}): ${ret};`);
      methodImpls.push(
        `Tensor.prototype.${js} = function (this: Tensor, ${mParams.join(', ')}) {\n  return ${js}(this${mNames.map((n) => `, ${n}`).join('')});\n};`,
      );
    }
  }

  const out = `// Generated by scripts/gen-ops.mjs from libtorch's operator schemas (${native.info().torchVersion}).
// Do not edit: add a line to scripts/ops.txt and run \`npm run gen:ops\`.
/* eslint-disable */
import { call, op, type OpHandle } from './native.js';
import { Tensor, wrap, wrapAll, hs, hsOpt } from './tensor.js';
import { dtypeCode, type DType } from './dtype.js';

${fns.join('\n\n')}

declare module './tensor.js' {
  interface Tensor {
${methodDecls.join('\n')}
  }
}

${methodImpls.join('\n')}
`;
  writeFileSync(path.join(root, 'src', 'torch', 'ops.generated.ts'), out);
  console.log(`wrote src/torch/ops.generated.ts: ${fns.length} ops, ${methodImpls.length} methods`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) generate();
