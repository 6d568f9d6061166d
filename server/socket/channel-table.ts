/**
 * A socket's channels by topic, in an array sorted by topic and searched by halving.
 *
 * A Map costs about 37 bytes per entry at a hundred channels, and leaves its outgrown tables
 * behind on the heap while a socket joins; this costs 8 bytes per channel and far less garbage.
 * A socket holds at most maxChannelsPerSocket channels, so the shifting an insert does stays small.
 */
export class ChannelTable<C extends { readonly topic: string }> {
  private readonly items: C[] = [];

  get size(): number {
    return this.items.length;
  }

  get(topic: string): C | undefined {
    const at = this.indexOf(topic);
    return at >= 0 ? this.items[at] : undefined;
  }

  /** Adds `channel`, replacing the one of the same topic. */
  set(channel: C): void {
    const at = this.indexOf(channel.topic);
    if (at >= 0) this.items[at] = channel;
    else this.items.splice(~at, 0, channel);
  }

  /** Removes `channel` if it is still the one of its topic. */
  delete(channel: C): boolean {
    const at = this.indexOf(channel.topic);
    if (at < 0 || this.items[at] !== channel) return false;
    this.items.splice(at, 1);
    return true;
  }

  /** The channels now, as a copy: safe to end them while going through it. */
  list(): C[] {
    return this.items.slice();
  }

  /** The index of `topic`, or the bitwise complement of where it would go. */
  private indexOf(topic: string): number {
    const items = this.items;
    let low = 0;
    let high = items.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const other = items[mid].topic;
      if (other < topic) low = mid + 1;
      else if (other > topic) high = mid - 1;
      else return mid;
    }
    return ~low;
  }
}
