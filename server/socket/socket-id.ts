/**
 * A socket's id: the node's incarnation, a transport mark, and the socket's serial in base 36
 * (`lq3x9ab2k0c1d.1a`, `….l1a` for LongPoll), unique per node start.
 *
 * A socket keeps only a number, its serial and transport in one (`socketSerial`), and the text is
 * made when something asks for it (logs, presence, the dashboard): a small integer lives in the
 * socket's own field, where the text, even as one flat string, cost 40 bytes per socket. Past
 * 2^30 sockets of one transport on one thread the number no longer fits in a small integer and
 * is kept as a heap number, the same id.
 */
export type SocketTransportKind = "websocket" | "longpoll";

/** The number a socket keeps: its serial, doubled, plus one for LongPoll. */
export function socketSerial(transport: SocketTransportKind, serial: number): number {
  return serial * 2 + (transport === "longpoll" ? 1 : 0);
}

/** The id's text: `<prefix>.<serial>` for a WebSocket, `<prefix>.l<serial>` for LongPoll. */
export function socketIdText(prefix: string, socketNumber: number): string {
  const longPoll = socketNumber % 2 === 1;
  const serial = (socketNumber - (longPoll ? 1 : 0)) / 2;
  return `${prefix}.${longPoll ? "l" : ""}${serial.toString(36)}`;
}
