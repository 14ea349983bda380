// Writes each command's options, from its option table, into its guide (docs/guides/<system>.md)
// between `<!-- options: <command> -->` and `<!-- /options -->`. With --check, changes nothing
// and fails when a guide differs from its tables (the test command runs it so).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { OPTION_TABLES } = await import(path.join(root, 'dist', 'src', 'systems', 'tables.js'));
const { flagOf } = await import(path.join(root, 'dist', 'src', 'models', 'options.js'));
const check = process.argv.includes('--check');

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
function shown(d) {
  if (d.type === 'bool') return d.default ? 'on' : 'off';
  if (d.default === null) return 'unset';
  if (Array.isArray(d.default)) return `\`${d.default.join(',')}\``;
  return `\`${d.default}\``;
}
function table(opts) {
  const rows = Object.entries(opts).map(([k, d]) => {
    const flag = d.type === 'bool' && d.default ? `--${flagOf(k, d)}, --no-${flagOf(k, d)}` : `--${flagOf(k, d)}`;
    const range =
      d.type === 'int'
        ? ` (${d.min}${d.max === undefined ? ' or more' : `..${d.max}`})`
        : d.type === 'choice'
          ? ` (${d.choices.join(', ')})`
          : '';
    return `| \`${flag}\` | ${shown(d)} | ${cell(d.help)}${cell(range)} |`;
  });
  return ['| option | default | what it sets |', '| --- | --- | --- |', ...rows].join('\n');
}

let stale = [];
for (const [command, { guide, table: opts }] of Object.entries(OPTION_TABLES)) {
  const file = path.join(root, 'docs', 'guides', `${guide}.md`);
  const text = readFileSync(file, 'utf8');
  const open = `<!-- options: ${command} -->`;
  const close = '<!-- /options -->';
  const a = text.indexOf(open);
  const b = text.indexOf(close, a);
  if (a < 0 || b < 0) {
    stale.push(`${file} has no ${open} ... ${close} block`);
    continue;
  }
  const next = `${text.slice(0, a + open.length)}\n${table(opts)}\n${text.slice(b)}`;
  if (next === text) continue;
  if (check) stale.push(`${path.relative(root, file)}: the options of \`loom ${command}\` differ from its table`);
  else writeFileSync(file, next);
}
if (stale.length) {
  console.error(`${stale.join('\n')}\nrun: npm run build && node scripts/options-docs.mjs`);
  process.exit(1);
}
