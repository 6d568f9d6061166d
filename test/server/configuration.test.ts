/**
 * The settings table is the one place a setting is written: these check that the configuration,
 * the CLI, `--help` and docs/configuration.md all come from it and agree.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, resolveConfig } from "../../server/config.js";
import { settingsFromCli } from "../../server/cli-options.js";
import { configurationReference } from "../../server/settings/reference.js";
import type { Setting } from "../../server/settings/setting.js";
import { RENAMED, SETTINGS, envOf, flagOf } from "../../server/settings/table.js";
import { NodeProcess } from "../support/node-process.js";

const TABLE = Object.entries(SETTINGS) as [string, Setting<unknown>][];

describe("the settings table", () => {
  it("is what docs/configuration.md says (npm run docs:config writes it)", async () => {
    await expect(configurationReference()).toMatchFileSnapshot("../../docs/configuration.md");
  });

  it("gives every duration in milliseconds, with a name that says it is one", () => {
    const durationName = /(Ms|Period|Interval|Ttl)$/;
    for (const [name, setting] of TABLE) {
      expect({ name, ms: setting.unit === "ms" }).toEqual({ name, ms: durationName.test(name) });
    }
  });

  it("resolves its own defaults, and refuses each bound crossed with a line naming the setting", () => {
    const config = resolveConfig({});
    expect(config).toMatchObject(DEFAULTS);
    expect(config.idleTimeoutMs).toBe(60_000);
    expect(() => resolveConfig({ idleTimeoutMs: 7999 })).toThrow("idleTimeoutMs must be an integer from 8000 to 960000, or 0, got 7999");
    expect(resolveConfig({ idleTimeoutMs: 0 }).idleTimeoutMs).toBe(0);
    expect(() => resolveConfig({ maxFramesPerSecond: -1 })).toThrow("maxFramesPerSecond must be an integer from 0 to 1000000, got -1");
    expect(() => resolveConfig({ logLevel: "loud" as never })).toThrow("logLevel must be one of fatal, error, warn, info, debug, trace, silent");
    expect(() => resolveConfig({ socketPath: "/socket/" })).toThrow('socketPath must be a path that starts with "/"');
    expect(() => resolveConfig({ redisUrl: "localhost:6379" })).toThrow("redisUrl must be a redis://");
    expect(() => resolveConfig({ presenceDownPeriod: 2000, presenceBroadcastPeriod: 1500 })).toThrow("presenceDownPeriod must be at least twice presenceBroadcastPeriod");
  });

  it("derives a default from the setting it follows", () => {
    expect(resolveConfig({ secretKeyBase: "s" })).toMatchObject({ broadcastKey: "s", dashboardKey: "s" });
    expect(resolveConfig({ secretKeyBase: "s", broadcastKey: "b" })).toMatchObject({ broadcastKey: "b", dashboardKey: "b" });
  });

  it("refuses a setting whose unit changed under its old name, in one line naming the new one, and any unknown name", () => {
    const line = "idleTimeout (--idle-timeout, IDLE_TIMEOUT) was in seconds; it is now idleTimeoutMs (--idle-timeout-ms, IDLE_TIMEOUT_MS), in milliseconds";
    expect(() => resolveConfig({ idleTimeout: 60 } as never)).toThrow(new ConfigError(line));
    expect(() => settingsFromCli(["--idle-timeout", "60"], {})).toThrow(new ConfigError(line));
    expect(() => settingsFromCli([], { IDLE_TIMEOUT: "60" })).toThrow(new ConfigError(line));
    expect(() => resolveConfig({ maxChannelPerSocket: 5 } as never)).toThrow('unknown setting "maxChannelPerSocket"');
    expect(Object.values(RENAMED).every(({ now }) => now in SETTINGS)).toBe(true);
  });

  it("reads every setting from its flag and its env var, flags winning", () => {
    const { settings } = settingsFromCli(
      ["--max-connects-per-second-per-ip", "5", "--check-origin", "https://a.example, //b.example", "--demo", "false"],
      { MAX_CONNECTS_PER_SECOND_PER_IP: "9", IDLE_TIMEOUT_MS: "30000", LONG_POLL: "off", PUBLIC_URL: "", LOG_LEVEL: "debug" },
    );
    expect(settings).toEqual({
      maxConnectsPerSecondPerIp: 5,
      checkOrigin: ["https://a.example", "//b.example"],
      demo: false,
      idleTimeoutMs: 30_000,
      longPoll: false,
      logLevel: "debug",
    });
    expect(() => settingsFromCli(["--port", "80x"], {})).toThrow('port must be an integer, got "80x"');
    expect(() => settingsFromCli([], { LOG_LEVEL: "loud" })).toThrow('logLevel must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
  });
});

describe("npx cinder --help", () => {
  it("prints every setting on a line of its own with its env var, then its description, type, default and bounds", async () => {
    const { code, output } = await NodeProcess.run({}, ["--help"]);
    expect(code).toBe(0);
    const lines = output.split("\n");
    for (const [name, setting] of TABLE) {
      const at = lines.findIndex((line) => line.startsWith(`  ${flagOf(name)} ${setting.placeholder}  `));
      expect(at, `${flagOf(name)} in --help`).toBeGreaterThan(0);
      // The flag and the env var never run together: at least two spaces between them.
      expect(lines[at]).toMatch(new RegExp(`^  ${flagOf(name)} \\S+ {2,}${envOf(name)}$`));
      const details = lines.slice(at + 1, lines.findIndex((line, i) => i > at && !line.startsWith("      "))).join(" ").replace(/\s+/g, " ");
      expect(details).toContain(setting.description.split(" ").slice(0, 4).join(" "));
      expect(details).toContain(`default ${setting.defaultText}`);
      if (setting.unit) expect(details).toContain(`${setting.type}, ${setting.unit}`);
    }
    expect(output).toMatch(/^ {2}--max-connects-per-second-per-ip <n> {2,}MAX_CONNECTS_PER_SECOND_PER_IP$/m);
    expect(output).toContain("integer, ms · default 60000 · 8000–960000, or 0 = never");
  });
});

describe("a cluster node without secretKeyBase", () => {
  it("refuses to start with one line saying why and what to set, when it serves LongPoll", async () => {
    const { code, stderr } = await NodeProcess.run({ REDIS_URL: "redis://127.0.0.1:1", PORT: "0", SECRET_KEY_BASE: "" });
    expect(code).toBe(1);
    expect(stderr).toBe(
      "cinder: a cluster node (redisUrl) needs secretKeyBase (SECRET_KEY_BASE), the same on every node: LongPoll sessions are signed with it and move between nodes; set it, or turn LongPoll off (longPoll: false, LONG_POLL=false)\n",
    );
  });

  it("is refused in code too, and allowed with LongPoll off", () => {
    expect(() => resolveConfig({ redisUrl: "redis://127.0.0.1:6379" })).toThrow(ConfigError);
    expect(resolveConfig({ redisUrl: "redis://127.0.0.1:6379", longPoll: false }).secretKeyBase).toBeUndefined();
    expect(resolveConfig({ redisUrl: "redis://127.0.0.1:6379", secretKeyBase: "shared" }).longPoll).toBe(true);
  });
});
