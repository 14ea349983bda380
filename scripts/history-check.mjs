// Keeps history out of the code: comments in src/ say what a piece does and why, while
// measurements with dates, session numbers and issue numbers belong in docs/ and in commit
// messages. Fails naming each line that holds one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HISTORY = [
  [/\b20\d\d-\d\d-\d\d\b/, 'a date'],
  [/\bsessions? \d+/i, 'a session number'],
  [/\bissues? #?\d+/i, 'an issue number'],
];

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (/\.(ts|mjs|cc)$/.test(name) && !name.endsWith('.generated.ts')) yield p;
  }
}

const found = [];
for (const file of [...sources(path.join(root, 'src')), ...sources(path.join(root, 'native'))]) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      for (const [re, what] of HISTORY)
        if (re.test(line)) found.push(`${path.relative(root, file)}:${i + 1}: ${what}: ${line.trim()}`);
    });
}
if (found.length) {
  console.error(`${found.join('\n')}\nhistory goes to docs/ and commit messages, not into the code`);
  process.exit(1);
}
