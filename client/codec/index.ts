export { CodecError, EVENTS, SOCKET_TOPIC, isBinaryPayload, isObjectPayload } from "./frame.js";
export type { BinaryPayload, Direction, Frame } from "./frame.js";
export { encodeJson, decodeJson } from "./json.js";
export { encodeBinary, decodeBinary } from "./binary.js";
export { jsonSerializer } from "./serializer.js";
export type { EncodedFrame, Serializer, SerializerName } from "./serializer.js";
