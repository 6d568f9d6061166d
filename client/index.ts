/**
 * cinder/client: the protocol codec shared by the server and browsers. The browser SDK
 * (Socket, Channel, Push, Presence) builds on these serializers.
 */
export * from "./codec/index.js";
