import { afterEach } from "vitest";

// Pure logic tests run under node (`// @vitest-environment node`); the rest under jsdom.
if (typeof document !== "undefined") {
  // jsdom starts with an untitled, language-less document; the real index.html has both.
  document.documentElement.lang = "en";
  document.title = "Signet";

  // Views are mounted into their own <main> (see render.ts); drop it after each test.
  afterEach(() => {
    document.querySelectorAll("body > main").forEach((m) => m.remove());
  });
}
