// Summarizes a V8 .cpuprofile (from `node --cpu-prof`, which `npm run bench -- --profile`
// passes to the gateway under load): self time per function, and the time spent under
// each of the gateway's own modules and each dependency. Usage:
//   node bench/cpu-profile-summary.ts FILE.cpuprofile [top]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/cpu-profile-summary.ts FILE.cpuprofile [top]');
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** Where a frame's code lives: a module of this repo, a package, or Node itself. */
function owner(url: string): string {
  if (url === '') return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src\/.+|bench\/.+)$/.exec(url);
  if (own) return own[1]!;
  if (url.startsWith('node:')) return url;
  return url;
}
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${owner(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
}
// Inclusive time per owner: a sample counts once for every owner on its stack.
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const owners = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) owners.add(owner(byId.get(cur)!.callFrame.url));
  for (const o of owners) inclusive.set(o, (inclusive.get(o) ?? 0) + us);
}
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
console.log(`total sampled: ${(total / 1e6).toFixed(2)} s\n\nself time, top ${top}:`);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
console.log(`\ninclusive time by module or package, top ${top}:`);
for (const [k, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);

// Inclusive time per function (a sample counts once per function on its stack), busy time only.
const busy = total - [...selfUs].filter(([id]) => ['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id)!.callFrame.functionName)).reduce((a, [, us]) => a + us, 0);
const inclusiveFn = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) seen.add(label(byId.get(cur)!));
  for (const f of seen) inclusiveFn.set(f, (inclusiveFn.get(f) ?? 0) + us);
}
console.log(`\ninclusive time per function, as a share of busy time (${(busy / 1e6).toFixed(2)} s), top ${top}:`);
for (const [k, us] of [...inclusiveFn].filter(([k]) => !k.startsWith('(')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((us / busy) * 100).toFixed(1).padStart(5)} %  ${k}`);
