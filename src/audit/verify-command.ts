// `secrets-gateway audit verify PATH...`: checks the hash chain of an audit log, or of a
// rotated set of them (files, or a directory), as one chain, oldest file first.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROBLEM_KINDS, verifySet } from './chain.ts';

/** `audit.log.3` is older than `audit.log.1`, which is older than `audit.log`: rotation's numbering. */
const rotationNumber = (file: string): number => Number(/\.(\d+)$/.exec(file)?.[1] ?? 0);

/** The files to verify, oldest first: a directory's regular files (not dotfiles), then ordered by rotation number (stable otherwise). */
export function auditFiles(paths: string[]): string[] {
  const files = paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((name) => !name.startsWith('.'))
          .map((name) => path.join(p, name))
          .filter((f) => statSync(f).isFile())
          .sort()
      : [p],
  );
  return files.map((file, i) => ({ file, i })).sort((a, b) => rotationNumber(b.file) - rotationNumber(a.file) || a.i - b.i).map((x) => x.file);
}

export function verifyAuditFiles(paths: string[]): { exit: number; text: string } {
  const files = auditFiles(paths);
  const result = verifySet(files.map((file) => ({ name: file, read: () => readFileSync(file) })));
  const what = files.length === 1 ? `${files[0]}:` : `${files.length} files (${files.join(', ')}):`;
  const notes = result.notes.map((n) => `  note: ${n}\n`).join('');
  if (result.ok) return { exit: 0, text: `${what} OK, ${result.lines} lines, hash chain intact\n${notes}` };
  const kinds = [...new Set(result.problems.map((p) => PROBLEM_KINDS[p.kind].label))].join(', ');
  return {
    exit: result.exit,
    text: `${what} ${kinds}: ${result.problems.length} problem(s) in ${result.lines} lines\n${result.problems.map((p) => `  ${p.message}\n`).join('')}${notes}`,
  };
}
