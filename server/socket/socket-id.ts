/**
 * A socket's id: the node's incarnation, a transport mark, and the socket's serial in base 36
 * (`lq3x9ab2k0c1d.1a`, `….l1a` for LongPoll), unique per node start.
 *
 * Built as one flat string: a template literal of these parts is a chain of V8 concatenations
 * (a cons string of 32 bytes per `+`, holding on to its parts), kept for as long as the socket
 * lives, about 90 bytes per socket where the flat string costs 40.
 */
export function socketId(prefix: string, serial: number): string {
  // Decoding the bytes again gives a fresh flat string, the same text.
  return Buffer.from(`${prefix}${serial.toString(36)}`).toString();
}
