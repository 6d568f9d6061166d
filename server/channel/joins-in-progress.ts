/**
 * The joins of this thread's channels asked for and not answered yet: in their handler's join,
 * reading their topic's history, waiting for the topic to be routed here. How far behind the
 * thread is with joins, which the WebSocket endpoint looks at before it lets a new socket in
 * (maxPendingJoins).
 */
export class JoinsInProgress {
  private current = 0;

  constructor(private readonly gauge: { set(value: number): void }) {}

  get count(): number {
    return this.current;
  }

  started(): void {
    this.gauge.set(++this.current);
  }

  ended(): void {
    this.gauge.set(--this.current);
  }
}
