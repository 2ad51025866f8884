import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { rewriteKitCss } from "./chat-ui-kit-theme.ts";

const require = createRequire(import.meta.url);
const kitPath = require.resolve("@chatscope/chat-ui-kit-styles/dist/default/styles.css");
const kit = readFileSync(kitPath, "utf8");

describe("rewriteKitCss", () => {
  it("turns the installed kit's colours into variables that fall back to them", () => {
    const out = rewriteKitCss(kit, kitPath);
    expect(out).toContain("background-color: var(--cr-surface, #fff);");
    expect(out).toContain("var(--cr-accent, #6ea9d7)");
    expect(out).not.toMatch(/#6ea9d7\b(?!\))/);
  });

  it.each([
    ["one colour gone", kit.replaceAll("#f2f2f2", "#eeeeee"), ["/#f2f2f2\\b/g"]],
    ["two gone", kit.replaceAll("#f2f2f2", "#eee").replaceAll("#2b6a9b", "#123456"), ["/#2b6a9b\\b/g", "/#f2f2f2\\b/g"]],
    ["a stylesheet of another shape", ".cs-button { color: red; }", ["/background-color: #fff;/g"]],
  ])("fails, naming what no longer matches, with %s", (_name, css, named) => {
    let message = "";
    try {
      rewriteKitCss(css, "styles.css");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^chat-ui-kit-theme: \d+ of the colours .* are no longer in styles\.css/);
    for (const pattern of named) expect(message).toContain(pattern);
  });
});
