/**
 * Waits for `work`, but at most `ms`: resolves with its value, or with `undefined` when the time
 * runs out first (the work itself goes on). The one way Cinder bounds a wait on a peer or on
 * Redis; the timer is cleared as soon as the work settles, so nothing lingers.
 */
export function settleWithin<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref?.();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
