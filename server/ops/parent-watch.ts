/** How often the parent is looked at, ms: a drain starts at most this late. */
const CHECK_MS = 250;

/**
 * npm runs `npm start` scripts and `npx` commands through `sh -c`, and that shell does not pass a
 * SIGTERM on: npm forwards the signal to the shell, the shell ends, and this process would run on,
 * orphaned and still holding its port. So, run by npm, a parent that goes away counts as a
 * SIGTERM to this process. (Outside npm a parent may well go on purpose: `nohup`, a shell's `&`.)
 */
export function sigtermWhenOrphanedUnderNpm(env: NodeJS.ProcessEnv, onOrphaned: () => void): void {
  if (env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onOrphaned();
    process.kill(process.pid, "SIGTERM");
  }, CHECK_MS);
  timer.unref();
}
