// Runs axe-core on the rendered document. jsdom cannot compute colours, so color-contrast is off;
// every other rule applies.
import axe from "axe-core";
import { expect } from "vitest";

export async function expectNoAxeViolations(root: Element = document.body): Promise<void> {
  const results = await axe.run(root, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  const summary = results.violations.map(
    (v) => `${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(" ")).join("\n  ")}`,
  );
  expect(summary, "axe-core violations").toEqual([]);
}
