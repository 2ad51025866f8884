import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "@chatscope/chat-ui-kit-styles/dist/default/styles.css";
import "./styles/theme.css";
import "./styles/app.css";
import { App } from "./app/App";
import { ClientConfigContext, loadClientConfig } from "./lib/config";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
// The server's limits first (one small request): the app starts with them.
void loadClientConfig().then(({ config, error }) => {
  if (error) console.warn("GET /api/config failed; using the documented defaults:", error.message);
  createRoot(root).render(
    <StrictMode>
      <ClientConfigContext value={config}>
        <App />
      </ClientConfigContext>
    </StrictMode>,
  );
});
