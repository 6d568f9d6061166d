import type { CinderServer } from "../server.js";
import { roomChannel } from "./room-channel.js";

/** The demo app `npm start` runs: the chat channel (the page at `/` comes with `demo: true`). */
export default function demoApp(server: CinderServer): void {
  server.channel("room:*", roomChannel);
}
