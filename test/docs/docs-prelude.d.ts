/**
 * The names the docs' code fragments use without declaring them, as the prose around each one
 * does ("on the server", "a connected socket", "your app's function"). test/docs/examples.test.ts
 * compiles every block with this file beside it.
 */
import type { CinderServer } from "cinder/server";
import type { Channel, Socket } from "phoenix";

declare global {
  /** The server an app module is given, or `createServer` made. */
  const server: CinderServer;
  /** A connected phoenix.js socket, and a channel of it. */
  const socket: Socket;
  const channel: Channel;
  /** The app's own functions the client examples call. */
  function render(payload: unknown): void;
  function reloadState(): void;
  function show(text: string): void;
  function fetchFreshToken(): Promise<string>;
  /** The app's own function a topic worker polls. */
  function fetchGoals(topic: string): Promise<number>;
  /** The socket token a Phoenix layout puts in the page. */
  interface Window {
    userToken: string;
  }
}
