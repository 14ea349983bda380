// Help cannot drift from the option tables: each command whose options come from a table
// prints every setting with the table's default, and names no other default for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { flagOf, type OptionDef, type OptionTable } from '../src/models/options.js';
import { OPTION_TABLES } from '../src/systems/tables.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const loom = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** Every command that has an option table, from the registry (`text train`: ['text', 'train']). */
const COMMANDS: [string[], OptionTable][] = Object.entries(OPTION_TABLES).map(([cmd, { table }]) => [
  cmd.split(' '),
  table,
]);

/** A value as help prints it. */
function spelled(d: OptionDef, v: unknown): string {
  if (Array.isArray(v)) return v.join(',');
  if (d.type === 'bool' && d.words && typeof v === 'boolean') return d.words[v ? 0 : 1];
  return String(v);
}

/** The default help should name, or null where it names none. */
function expectedDefault(d: OptionDef): string | null {
  if (d.byVariant)
    return `(default: ${Object.entries(d.byVariant)
      .map(([name, v]) => `${name} ${spelled(d, v)}`)
      .join('; ')})`;
  if (d.default === null || (d.type === 'bool' && !d.words)) return null;
  return `(default ${spelled(d, d.default)})`;
}

for (const [cmd, table] of COMMANDS) {
  test(`loom ${cmd.join(' ')} --help: every setting of its table, with the table's default and no other`, () => {
    const r = loom([...cmd, '--help']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    for (const [key, d] of Object.entries(table)) {
      if (d.shared) continue; // --seed: the shared options' line
      const flag = flagOf(key, d);
      const line = lines.find((l) => l.startsWith(`  --${flag} `) || l === `  --${flag}`);
      assert.ok(line, `--${flag} is in the help of loom ${cmd.join(' ')}`);
      const want = expectedDefault(d);
      // An unset setting's help may say what decides it ("default: max(500, 5 x sample-every)"), not a value.
      const rule = (n: string) => want === null && /^\(default: \S+ \S/.test(n);
      const named = (line.match(/\(default[^)]*\)/g) ?? []).filter((n) => !rule(n));
      assert.deepEqual(named, want === null ? [] : [want], `--${flag}'s default in help`);
    }
  });
}

test('--device: listed only where libtorch has CUDA; cpu taken silently; cuda without CUDA is one sentence', () => {
  const cuda = T.cudaAvailable();
  for (const [cmd] of COMMANDS) {
    const help = loom([...cmd, '--help', '--device', 'cpu']);
    assert.equal(help.status, 0, help.stderr);
    assert.equal(/^ {2}--device /m.test(help.stdout), cuda, `loom ${cmd.join(' ')} --help lists --device: ${cuda}`);
  }
  if (cuda) return;
  const r = loom(['style', 'builtin:dog', 'builtin:scream', '--device', 'cuda']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'loom: --device cuda: this libtorch has no CUDA; leave --device out to run on the CPU\n');
  const t = loom(['text', 'train', '--device', 'cuda:1']);
  assert.equal(t.status, 2);
  assert.match(t.stderr, /^loom: --device cuda:1: this libtorch has no CUDA/);
});
