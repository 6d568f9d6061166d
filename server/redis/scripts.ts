import { createHash } from "node:crypto";
import type { RedisClient } from "./redis-client.js";

const shas = new Map<string, string>();

/** The SHA-1 Redis knows a script by. */
export function shaOf(script: string): string {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = createHash("sha1").update(script).digest("hex")));
  return sha;
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

/**
 * EVALSHA, and EVAL when Redis does not have the script (first use, or after a restart). For
 * commands whose order does not matter: the EVAL goes out after whatever was sent meanwhile.
 */
export async function runScript(client: RedisClient, script: string, keys: string[], args: Array<string | Buffer>): Promise<unknown> {
  try {
    return await client.evalsha(shaOf(script), keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return client.eval(script, keys.length, ...keys, ...args);
  }
}
