/**
 * A broadcast on its way to other replicas: the V2 JSON frame (text, or a V2 binary frame when
 * the payload is bytes), encoded once by the publisher. JSON subscribers anywhere get these
 * bytes as they are; the payload is decoded again only where msgpack subscribers or
 * `handleOut` need it.
 */
export interface EncodedBroadcast {
  topic: string;
  event: string;
  frame: string | Uint8Array;
  /** On a history topic: the broadcast's place in the topic's stream (also in the payload as `_o`). */
  offset?: number;
  epoch?: string;
  /** On a history topic: the socket id not to deliver to (broadcast_from). */
  except?: string;
}
