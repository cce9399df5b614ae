/// <reference types="vitest/config" />
// Vite builds the UI into the Python package (src/wirework/web/dist); `npm run dev` proxies the API.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const backend = process.env.WIREWORK_BACKEND ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/wirework/web/dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": backend,
      "/webhook": backend,
      "/webhook-test": backend,
      "/healthz": backend,
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
