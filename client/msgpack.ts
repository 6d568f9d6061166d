import { msgpackSerializer as msgpackCodec } from "./codec/msgpack.js";
import { type ClientSerializer, clientSerializer } from "./serializer.js";

/**
 * The msgpack wire format: `new Socket(url, { serializer: msgpackSerializer })`.
 * Its own entry point (`cinder/client/msgpack`), so `@msgpack/msgpack` is loaded only by
 * apps that use it. Byte payloads arrive as `Uint8Array`.
 */
export const msgpackSerializer: ClientSerializer = clientSerializer(msgpackCodec);
