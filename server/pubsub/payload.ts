/** A payload a channel sends or receives: a JSON object, or raw bytes (V2 binary / msgpack bin). */
export type Payload = Record<string, unknown> | ArrayBuffer | Uint8Array;
