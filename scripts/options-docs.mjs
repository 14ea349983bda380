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
/** A value as the CLI spells it. */
function spelled(d, v) {
  if (d.type === 'bool') return d.words ? d.words[v ? 0 : 1] : v ? 'on' : 'off';
  return Array.isArray(v) ? v.join(',') : String(v);
}
function shown(d) {
  if (d.byVariant)
    return Object.entries(d.byVariant)
      .map(([name, v]) => `${name}: \`${spelled(d, v)}\``)
      .join('<br>');
  if (d.default === null) return 'unset';
  if (d.type === 'bool' && !d.words) return d.default ? 'on' : 'off';
  return `\`${spelled(d, d.default)}\``;
}
function table(opts) {
  const rows = Object.entries(opts).map(([k, d]) => {
    const flag =
      d.type === 'bool' && !d.words && d.default ? `--${flagOf(k, d)}, --no-${flagOf(k, d)}` : `--${flagOf(k, d)}`;
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
