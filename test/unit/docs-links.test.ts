// Every relative link of README.md and docs/*.md lands: the file exists and, for a #anchor into a markdown file,
// that file has the heading. The manual was split out of one README into docs/; a link left pointing at a section
// that moved is the mistake this catches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

// Fenced code blocks hold shell comments (`# mint ...`) and example text, neither headings nor links.
function withoutFences(markdown: string): string {
  let inFence = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      return '';
    }
    return inFence ? '' : line;
  }).join('\n');
}

// GitHub's anchor for a heading (github-slugger): the rendered text (code spans keep their text, links their label,
// emphasis marks go), lower-cased, with everything but letters, marks, numbers, connector punctuation, spaces and
// hyphens removed, and spaces turned into hyphens; a repeated slug gets -1, -2, ...
function githubSlug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of withoutFences(readFileSync(file, 'utf8')).split('\n')) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubSlug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function linksOf(file: string): string[] {
  // Code spans may show link syntax as text; they are not links.
  const text = withoutFences(readFileSync(file, 'utf8')).replace(/`[^`\n]*`/g, '');
  const links: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(m[1]!);
  return links;
}

const docsDir = path.join(root, 'docs');
const files = [path.join(root, 'README.md'), ...readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => path.join(docsDir, f))];

test('the slug rule matches GitHub on the headings this repository has', () => {
  assert.equal(githubSlug('Changing connections at runtime'), 'changing-connections-at-runtime');
  assert.equal(githubSlug('`local_filesystem`'), 'local_filesystem');
  assert.equal(githubSlug('Network backends: timeout, retries, circuit breaker'), 'network-backends-timeout-retries-circuit-breaker');
  assert.equal(githubSlug('Changing connections from DAG code: `GatewayClient`'), 'changing-connections-from-dag-code-gatewayclient');
  assert.equal(githubSlug('Airflow: workers and fidelity'), 'airflow-workers-and-fidelity');
});

test('README.md and docs/ are there, and docs/ has the operator manual and the development guide', () => {
  for (const name of ['api', 'configuration', 'access-control', 'audit-log', 'backends', 'airflow', 'writes', 'cache', 'operations', 'deployment', 'development']) {
    assert.ok(existsSync(path.join(docsDir, `${name}.md`)), `docs/${name}.md`);
  }
});

test('every relative link in README.md and docs/*.md resolves to a file, and every #anchor to a heading', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    for (const link of linksOf(file)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      checked++;
      const [target, anchor] = link.split('#', 2) as [string, string | undefined];
      const targetFile = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
      const where = `${path.relative(root, file)}: ${link}`;
      if (!existsSync(targetFile)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor !== undefined && targetFile.endsWith('.md') && !anchorsOf(targetFile).has(decodeURIComponent(anchor))) {
        broken.push(`${where} (no such heading)`);
      }
    }
  }
  assert.ok(checked > 30, `only ${checked} relative links found: the link scanner is broken`);
  assert.deepEqual(broken, []);
});

test('every source path the docs name in a code span exists (a moved file fails here until the docs follow it)', () => {
  const missing: string[] = [];
  let checked = 0;
  for (const file of [...files, path.join(root, 'clients', 'airflow', 'README.md')]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/`((?:src|test|bench|scripts|helm|deploy|clients)\/[A-Za-z0-9_./-]+)`/g)) {
      checked++;
      if (!existsSync(path.join(root, m[1]!))) missing.push(`${path.relative(root, file)}: ${m[1]}`);
    }
  }
  assert.ok(checked > 50, `only ${checked} paths found: the scanner is broken`);
  assert.deepEqual(missing, []);
});

test("every source file named in the optimization log's table of figures quoted in code comments exists, and points back to it", () => {
  const log = readFileSync(path.join(root, 'bench', 'optimization-log.md'), 'utf8');
  const table = log.slice(log.indexOf('## Figures quoted in code comments'));
  const named = [...new Set([...table.matchAll(/^\| ([^|]*)\|/gm)].flatMap((row) => [...row[1]!.matchAll(/`(src\/[^`]+\.ts)`/g)].map((m) => m[1]!)))];
  assert.ok(named.length > 8, `only ${named.length} files found: the table scanner is broken`);
  const wrong = named.filter((file) => !existsSync(path.join(root, file)) || !readFileSync(path.join(root, file), 'utf8').includes('Figures quoted in code comments'));
  assert.deepEqual(wrong, []);
});
