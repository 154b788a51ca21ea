import { defineConfig } from "vite";

// Relative asset paths: the explorer binary serves dist/ at its root.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 1024 },
});
