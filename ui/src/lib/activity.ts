// Wording for activity entries.
import type { ActivityKind } from "../generated/ActivityKind";

export const KIND_LABEL: Record<ActivityKind, string> = {
  signed_in: "Signed in",
  refreshed: "Refreshed",
  signed_out: "Signed out",
  failed: "Failed",
  context_switched: "Context switched",
  config_changed: "Config changed",
  forwarded: "Forwarded",
};

export function kindLabel(kind: ActivityKind): string {
  return KIND_LABEL[kind] ?? kind;
}
