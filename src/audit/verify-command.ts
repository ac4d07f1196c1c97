// `secrets-gateway audit verify FILE`: checks the hash chain of an audit log.
import { readFileSync } from 'node:fs';
import { verifyChain } from './chain.ts';

export function verifyAuditFile(file: string): { ok: boolean; text: string } {
  const result = verifyChain(readFileSync(file, 'utf8'));
  if (result.ok) return { ok: true, text: `${file}: OK, ${result.lines} lines, hash chain intact\n` };
  return { ok: false, text: `${file}: TAMPERED: ${result.problems.length} problem(s) in ${result.lines} lines\n${result.problems.map((p) => `  ${p}\n`).join('')}` };
}
