// ESLint for the web client: typescript-eslint's recommended rules and the
// React hooks rules (rules-of-hooks, exhaustive-deps and the React
// Compiler's checks), on every TypeScript file. Types are checked by tsc
// (`npm run typecheck`); this lints what tsc does not look at.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  globalIgnores(["dist/", "node_modules/"]),
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, tseslint.configs.recommended, reactHooks.configs.flat.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      globals: globals.browser,
    },
    rules: {
      // A leading underscore marks what is unused on purpose (a rest sibling left out, say).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
    },
  },
  {
    files: ["vite.config.ts", "build/**/*.ts", "eslint.config.js"],
    languageOptions: { globals: globals.node },
  },
]);
