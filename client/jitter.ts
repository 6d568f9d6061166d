/**
 * Full jitter over a backoff: try `tries` waits a uniformly random time between 0 and
 * `backoff(tries)`, so clients dropped together (a server restart) do not come back together.
 * `random` returns a number in [0, 1), as Math.random does.
 */
export function withFullJitter(backoff: (tries: number) => number, random: () => number): (tries: number) => number {
  return (tries) => Math.floor(random() * backoff(tries));
}
