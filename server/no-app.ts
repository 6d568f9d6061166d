import type { CinderServer } from "./server.js";

/**
 * The app of `npx cinder` with the `hooks` setting and no `--app`: no TypeScript channels, the
 * backend's hooks answer for every topic they name.
 */
export default function noApp(_server: CinderServer): void {}
