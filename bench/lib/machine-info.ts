import { cpus, release, totalmem } from "node:os";

import { uwsCapabilities } from "../../server/native-uws.js";

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  memory_gib: number;
  node: string;
  kernel: string;
  uws: string;
}

/** The uWS build the servers load on this Node (the same choice in every process here). */
function uwsBuild(): string {
  const { version, npmPackage } = uwsCapabilities();
  return `${version} (${npmPackage})`;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu_model: list[0]?.model ?? "unknown",
    cores: list.length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    uws: uwsBuild(),
  };
}
