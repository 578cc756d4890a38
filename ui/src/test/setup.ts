import { afterEach } from "vitest";

// Pure logic tests run under node (`// @vitest-environment node`); the rest under jsdom.
if (typeof document !== "undefined") {
  // jsdom starts with an untitled, language-less document; the real index.html has both.
  document.documentElement.lang = "en";
  document.title = "Signet";

  // jsdom has no canvas; axe-core probes one (for icon ligatures) and jsdom prints "Not implemented" for
  // every probe. Answer "no canvas" quietly, as a browser without 2D canvas would.
  HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;

  // Views are mounted into their own <main> (see render.ts); drop it after each test.
  afterEach(() => {
    document.querySelectorAll("body > main").forEach((m) => m.remove());
  });
}
