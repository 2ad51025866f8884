import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Plugin, ResolvedConfig } from "vite";

/**
 * Vite empties dist/ before a build, and with it the committed, empty
 * dist/.gitkeep that lets the Go server compile (//go:embed all:dist) on a
 * machine that never ran Node. This puts it back after the build.
 */
export function keepGitkeep(): Plugin {
  let outDir = "dist";
  return {
    name: "chatrooms:keep-gitkeep",
    apply: "build",
    configResolved(config: ResolvedConfig) {
      outDir = join(config.root, config.build.outDir);
    },
    closeBundle() {
      const file = join(outDir, ".gitkeep");
      if (!existsSync(file)) {
        writeFileSync(file, "");
      }
    },
  };
}
