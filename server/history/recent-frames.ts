/**
 * The last frames of a history topic that reached this thread, with their offsets. A joining
 * socket reads the topic's history from its authority, which takes a while; what reached the
 * thread meanwhile is found here, so the join misses nothing between the read and the moment
 * it is attached. Bounded by the topic's history size.
 */
export class RecentFrames {
  private epoch = "";
  private entries: Array<{ offset: number; frame: string }> = [];

  constructor(private readonly capacity: number) {}

  record(offset: number, epoch: string, frame: string): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.entries = [];
    }
    this.entries.push({ offset, frame });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /**
   * The frames after `offset` in `epoch`, if they follow it without a hole (offset+1,
   * offset+2, …); otherwise none can be vouched for and the result is empty.
   */
  after(offset: number, epoch: string): Array<{ offset: number; frame: string }> {
    if (epoch !== this.epoch) return [];
    const later = this.entries.filter((entry) => entry.offset > offset);
    return later.length > 0 && later[0].offset === offset + 1 && isDense(later) ? later : [];
  }
}

function isDense(entries: Array<{ offset: number }>): boolean {
  for (let i = 1; i < entries.length; i++) if (entries[i].offset !== entries[i - 1].offset + 1) return false;
  return true;
}
