// Copying a command: the async Clipboard API where the webview allows it, else the old
// hidden-textarea + execCommand("copy") route (WebKitGTK may refuse the former).

export async function copyText(text: string, doc: Document = document): Promise<boolean> {
  try {
    const clip = doc.defaultView?.navigator.clipboard;
    if (clip && typeof clip.writeText === "function") {
      await clip.writeText(text);
      return true;
    }
  } catch {
    // fall through to the fallback
  }
  return copyWithTextarea(text, doc);
}

export function copyWithTextarea(text: string, doc: Document = document): boolean {
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.setAttribute("aria-hidden", "true");
  area.tabIndex = -1;
  area.style.position = "fixed";
  area.style.top = "-1000px";
  area.style.opacity = "0";
  const previous = doc.activeElement as HTMLElement | null;
  doc.body.appendChild(area);
  area.focus({ preventScroll: true });
  area.select();
  let ok = false;
  try {
    ok = typeof doc.execCommand === "function" && doc.execCommand("copy");
  } catch {
    ok = false;
  } finally {
    area.remove();
    previous?.focus?.();
  }
  return ok;
}
