// The `loom` command's table: every command is listed by `loom --help` and answers its own
// --help; an unknown one is a sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { commands, usage, type Command } from '../src/cli/commands.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const loom = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

test('loom --help lists every command of the table, and each answers --help', () => {
  const r = loom('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), usage());
  for (const c of commands()) {
    for (const [form] of c.lines) assert.ok(r.stdout.includes(`  ${form}`), form);
    const h = loom(c.name, '--help');
    assert.equal(h.status, 0, `${c.name}: ${h.stderr}`);
    assert.match(h.stdout, /usage: loom /, c.name);
  }
  const bad = loom('bogus');
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim(), "loom: unknown command 'bogus'; run `loom --help` for the list");
});

test('a command added to the table is in the usage, its long form on a line of its own', () => {
  const toy: Command = {
    name: 'toy',
    lines: [['toy train|sample|walk|grid', 'a system of the tests']],
    run: async () => {},
  };
  const text = usage([...commands(), toy]);
  assert.ok(text.includes(`\n  toy train|sample|walk|grid\n${' '.repeat(20)}a system of the tests\n`), text);
  assert.ok(!usage().includes('toy'));
});
