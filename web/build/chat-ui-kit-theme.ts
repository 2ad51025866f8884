import type { Plugin } from "vite";

/**
 * chat-ui-kit-styles hard-codes its colours. This plugin rewrites them, at
 * build time, into CSS custom properties that fall back to the original
 * value, so src/styles/theme.css can restyle the kit (dark mode) by setting
 * a dozen variables instead of overriding a hundred selectors.
 *
 * Each entry maps a literal as it appears in the kit's stylesheet to the
 * variable that replaces it. White is only replaced where it is a surface
 * (background or border), never where it is text on a coloured badge.
 */
const replacements: ReadonlyArray<readonly [RegExp, string]> = [
  [/background-color: #fff;/g, "background-color: var(--cr-surface, #fff);"],
  [/border: solid 2px #fff;/g, "border: solid 2px var(--cr-surface, #fff);"],
  [/border-color: #fff;/g, "border-color: var(--cr-surface, #fff);"],
  [/rgba\(0, 0, 0, 0\.87\)/g, "var(--cr-text, rgba(0, 0, 0, 0.87))"],
  [/rgba\(0, 0, 0, 0\.6\)/g, "var(--cr-text-muted, rgba(0, 0, 0, 0.6))"],
  [/rgba\(77, 77, 77, 0\.87\)/g, "var(--cr-text-meta, rgba(77, 77, 77, 0.87))"],
  [/#d1dbe3\b/g, "var(--cr-border, #d1dbe3)"],
  [/#6ea9d7\b/g, "var(--cr-accent, #6ea9d7)"],
  [/#c6e3fa\b/g, "var(--cr-accent-soft, #c6e3fa)"],
  [/#d5e7f5\b/g, "var(--cr-selected, #d5e7f5)"],
  [/#2b6a9b\b/g, "var(--cr-selected-text, #2b6a9b)"],
  [/#f6fbff\b/g, "var(--cr-header, #f6fbff)"],
  [/#f3f8fc\b/g, "var(--cr-hover, #f3f8fc)"],
  [/#f2f2f2\b/g, "var(--cr-surface, #f2f2f2)"],
];

/** The kit's stylesheets, by module id (a query such as ?direct may follow). */
const KIT_CSS = /@chatscope[\\/]chat-ui-kit-styles[\\/].*\.css(\?|$)/;

/**
 * The kit's stylesheet with every colour above replaced. Throws when a
 * literal is no longer in it (a new version of the kit changed its
 * colours): the build fails, naming them, instead of shipping a theme
 * that silently no longer applies.
 */
export function rewriteKitCss(code: string, id: string): string {
  let out = code;
  const missing: string[] = [];
  for (const [pattern, value] of replacements) {
    const next = out.replace(pattern, value);
    if (next === out) missing.push(String(pattern));
    out = next;
  }
  if (missing.length > 0) {
    throw new Error(
      `chat-ui-kit-theme: ${missing.length} of the colours build/chat-ui-kit-theme.ts rewrites ` +
        `are no longer in ${id}: ${missing.join(", ")}. ` +
        "Did @chatscope/chat-ui-kit-styles change? Update the replacements (and src/styles/theme.css) to its stylesheet.",
    );
  }
  return out;
}

export function themeableChatUiKit(): Plugin {
  let command: "build" | "serve" = "serve";
  let rewritten = 0;
  return {
    name: "chatrooms:themeable-chat-ui-kit",
    enforce: "pre",
    configResolved(config) {
      command = config.command;
    },
    buildStart() {
      rewritten = 0;
    },
    transform(code, id) {
      if (!KIT_CSS.test(id)) return null;
      rewritten++;
      return { code: rewriteKitCss(code, id), map: null };
    },
    buildEnd(error) {
      // A build that never saw the kit's stylesheet (its path changed) would theme nothing.
      if (command === "build" && !error && rewritten === 0) {
        this.error("chat-ui-kit-theme: no @chatscope/chat-ui-kit-styles stylesheet went through the build; is it still imported (src/main.tsx)?");
      }
    },
  };
}
