/**
 * A socket's channels by topic, in an array sorted by topic and searched by halving. A base class
 * of the socket rather than a field: an object per socket would cost 32 bytes more each.
 *
 * A Map costs about 37 bytes per entry at a hundred channels, and leaves its outgrown tables
 * behind on the heap while a socket joins; this costs 8 bytes per channel and far less garbage.
 * A socket holds at most maxChannelsPerSocket channels, so the copying an insert does stays small.
 *
 * Most sockets hold one channel, or none: one is kept as it is, without an array, and none as
 * null. An array is always of its exact length (grown by copying, not by `splice`, which leaves
 * room for 16 more: 136 bytes per socket at one channel).
 */
export class ChannelTable<C extends { readonly topic: string }> {
  /** None, the only one, or two and more sorted by topic. */
  private channelsHeld: C | C[] | null = null;

  protected get channelCount(): number {
    const held = this.channelsHeld;
    return held === null ? 0 : Array.isArray(held) ? held.length : 1;
  }

  protected channelOf(topic: string): C | undefined {
    const held = this.channelsHeld;
    if (held === null) return undefined;
    if (!Array.isArray(held)) return held.topic === topic ? held : undefined;
    const at = indexOf(held, topic);
    return at >= 0 ? held[at] : undefined;
  }

  /** Adds `channel`, replacing the one of the same topic. */
  protected holdChannel(channel: C): void {
    const held = this.channelsHeld;
    if (held === null || (!Array.isArray(held) && held.topic === channel.topic)) {
      this.channelsHeld = channel;
      return;
    }
    const items = Array.isArray(held) ? held : [held];
    const at = indexOf(items, channel.topic);
    if (at >= 0) {
      items[at] = channel;
      this.channelsHeld = items;
      return;
    }
    const into = ~at;
    const grown = new Array<C>(items.length + 1);
    for (let i = 0; i < into; i++) grown[i] = items[i];
    grown[into] = channel;
    for (let i = into; i < items.length; i++) grown[i + 1] = items[i];
    this.channelsHeld = grown;
  }

  /** Removes `channel` if it is still the one of its topic. */
  protected dropChannel(channel: C): boolean {
    const held = this.channelsHeld;
    if (held === null) return false;
    if (!Array.isArray(held)) {
      if (held !== channel) return false;
      this.channelsHeld = null;
      return true;
    }
    const at = indexOf(held, channel.topic);
    if (at < 0 || held[at] !== channel) return false;
    if (held.length === 2) {
      this.channelsHeld = held[1 - at];
      return true;
    }
    const shrunk = new Array<C>(held.length - 1);
    for (let i = 0, to = 0; i < held.length; i++) if (i !== at) shrunk[to++] = held[i];
    this.channelsHeld = shrunk;
    return true;
  }

  /** The channels now, as a copy: safe to end them while going through it. */
  protected heldChannels(): C[] {
    const held = this.channelsHeld;
    return held === null ? [] : Array.isArray(held) ? held.slice() : [held];
  }
}

/** The index of `topic` in sorted `items`, or the bitwise complement of where it would go. */
function indexOf<C extends { readonly topic: string }>(items: readonly C[], topic: string): number {
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
