// Mounts a view the way App does: inside <main>, so landmark rules see a real page.
import { render } from "@testing-library/svelte";
import type { Component } from "svelte";

export function renderInMain<P extends Record<string, unknown>>(component: Component<P>, props: P) {
  const main = document.createElement("main");
  document.body.appendChild(main);
  const result = render(component, { target: main, props });
  return { ...result, main };
}
