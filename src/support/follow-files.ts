// Following files on disk, for a reload: a watch on each file's directory (which also sees the `..data`
// symlink swap Kubernetes does for a mounted Secret or ConfigMap), a debounce, and a poll for what a
// watch misses (a symlink's target elsewhere, lost events). Whether anything changed is the caller's
// to decide, from a signature of the files' stat (statSignature). Used by the local_filesystem backend's
// files (backends/local-filesystem/watched-file.ts) and the server's TLS files (http/tls.ts).
import { watch, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';

/** What identifies a file's content cheaply: stat() follows symlinks, so a `..data` swap changes it too. */
export const statSignature = (s: Stats): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/** Calls `check` `settleMs` after an event on one of `files` (or on a `..` entry beside them), and every
 * `pollMs`; returns the function that stops following. */
export function followFiles(files: string[], check: () => void, options: { pollMs: number; settleMs: number }): () => void {
  const namesByDir = new Map<string, Set<string>>();
  for (const file of files) namesByDir.set(path.dirname(file), (namesByDir.get(path.dirname(file)) ?? new Set()).add(path.basename(file)));
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(check, options.settleMs);
    debounce.unref();
  };
  for (const [dir, names] of namesByDir) {
    try {
      // Only these files' own events and the volume's swaps: others in the directory (an audit log
      // written next to the secrets, say) are no reason to stat them.
      const watcher = watch(dir, { persistent: false }, (_event, changed) => {
        if (changed === null || names.has(changed) || changed.startsWith('..')) schedule();
      });
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // The directory may not exist yet: the poll still sees the files when they appear.
    }
  }
  const poller = setInterval(check, options.pollMs);
  poller.unref();
  return () => {
    stopped = true;
    for (const w of watchers) w.close();
    clearInterval(poller);
    if (debounce) clearTimeout(debounce);
  };
}
