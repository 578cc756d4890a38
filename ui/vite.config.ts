import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The window is served from Tauri's asset protocol under a strict CSP
// (`default-src 'self'; style-src 'self' 'unsafe-inline'`): relative base, no inline scripts,
// everything bundled, nothing remote.
export default defineConfig({
  base: "./",
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // One small app: inline nothing as data: URLs that the CSP would have to allow.
    assetsInlineLimit: 0,
  },
  test: {
    setupFiles: ["src/test/setup.ts"],
    mockReset: true,
    restoreMocks: true,
    projects: [
      {
        // Pure logic: no DOM, so no jsdom start-up per file.
        extends: true,
        test: {
          name: "unit",
          environment: "node",
          include: ["src/lib/**/*.test.ts"],
          exclude: ["src/lib/store.test.ts", "src/lib/clipboard.test.ts"],
        },
      },
      {
        // Views and DOM helpers under jsdom. Every file mocks `lib/api` with the same module
        // (src/test/apiMock.ts, reset before each test), so files can share one environment.
        extends: true,
        test: {
          name: "dom",
          environment: "jsdom",
          include: [
            "src/*.test.ts",
            "src/views/**/*.test.ts",
            "src/components/**/*.test.ts",
            "src/lib/store.test.ts",
            "src/lib/clipboard.test.ts",
          ],
          isolate: false,
        },
      },
    ],
  },
});
