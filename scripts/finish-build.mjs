// After tsc: the studio page's HTML and CSS go beside its compiled script, and the CLI
// becomes executable.
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist/src/studio/page', { recursive: true });
for (const f of ['index.html', 'page.css']) copyFileSync(`src/studio/page/${f}`, `dist/src/studio/page/${f}`);
chmodSync('dist/src/cli/main.js', 0o755);
