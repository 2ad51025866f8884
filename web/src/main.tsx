import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "@chatscope/chat-ui-kit-styles/dist/default/styles.css";
import "./styles/theme.css";
import "./styles/app.css";
import { App } from "./app/App";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
