import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";

import { repoRoot } from "./repo-root.js";

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  memory_gib: number;
  node: string;
  kernel: string;
  uws: string;
}

function packageVersion(name: string): string {
  try {
    const file = join(repoRoot(), "node_modules", name, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu_model: list[0]?.model ?? "unknown",
    cores: list.length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    uws: packageVersion("uWebSockets.js"),
  };
}
