// The window's shared state: the last status and config from Rust, the activity list, which view
// is shown, and the status line. Loaded once; afterwards updated only from events and from the
// answers to the window's own commands (no polling).
import type { ActivityEntry } from "../generated/ActivityEntry";
import type { ConfigDto } from "../generated/ConfigDto";
import type { ContextSwitched } from "../generated/ContextSwitched";
import type { ErrorDto } from "../generated/ErrorDto";
import type { StatusDto } from "../generated/StatusDto";
import { api } from "./api";
import { toErrorDto } from "./errors";
import { signedOutText, signInOutcomeText, signInStartedText } from "./providerState";

export type View = "clusters" | "providers" | "add-cluster" | "import" | "activity" | "settings";

export const VIEWS: { id: View; label: string }[] = [
  { id: "clusters", label: "Clusters" },
  { id: "providers", label: "Providers" },
  { id: "add-cluster", label: "Add cluster" },
  { id: "import", label: "Import" },
  { id: "activity", label: "Activity" },
  { id: "settings", label: "Settings" },
];

/** What a view is asked to do on arrival (e.g. the welcome screen's choices). */
export type Intent =
  | { view: "import"; kind: "kubeconfig" | "catalog" }
  | { view: "providers"; action: "add" }
  | { view: "add-cluster"; provider: string };

const ACTIVITY_LIMIT = 500;

function activityKey(e: ActivityEntry): string {
  return `${e.at}|${e.kind}|${e.provider ?? ""}|${e.message}`;
}

/**
 * Provider and cluster names as one string, to notice a status whose configuration differs from the
 * loaded config. Both sides go through here, so the two strings are always formatted alike.
 */
function namesKey(providers: Iterable<[string, string[]]>): string {
  return [...providers]
    .map(([provider, clusters]) => `${provider}:${clusters.sort().join(",")}`)
    .sort()
    .join(";");
}

function namesOfStatus(s: StatusDto): string {
  return namesKey(s.providers.map((p) => [p.name, p.clusters.map((c) => c.name)]));
}

/**
 * The config's side, in one pass over its clusters: the config is a deep `$state` proxy, and a pass per
 * provider (50 over 1,000 clusters) cost 12–16 ms of the switcher's first paint in the release build
 * (DESIGN.md §8).
 */
export function namesOfConfig(c: ConfigDto): string {
  const clusters = new Map<string, string[]>(c.providers.map((p) => [p.name, []]));
  for (const x of c.clusters) clusters.get(x.provider)?.push(x.name);
  return namesKey(clusters);
}

export class AppStore {
  status = $state<StatusDto | null>(null);
  statusError = $state<ErrorDto | null>(null);
  config = $state<ConfigDto | null>(null);
  configError = $state<ErrorDto | null>(null);
  activity = $state<ActivityEntry[] | null>(null);
  activityError = $state<ErrorDto | null>(null);
  view = $state<View>("clusters");
  intent = $state<Intent | null>(null);
  /** A short message for the status line ("Copied …", "Signed out of corp"). */
  feedback = $state("");
  /** Wall clock for "expires in …" text; ticked by the app every 30 s, fixed in tests. */
  now = $state(Date.now());
  /** Sign-in or sign-out calls on their way, by provider (to disable their buttons). */
  pending = $state<Record<string, "sign-in" | "sign-out">>({});

  #statusVersion = 0;
  /**
   * The sign-in the window started, from the call until a status says it is over: `text` is the
   * "Signing in to …" line once the command answered, `running` once a status showed it running (so
   * an older status is not taken for its end), `outcome` when it ended before the command answered
   * (the window's events and answers may come in either order while a login window is in front).
   */
  #signIn: { provider: string; text: string | null; running: boolean; outcome: string | null } | null = null;
  #configLoading: Promise<void> | null = null;

  /** Subscribes to the status and activity events, then loads status and config. */
  async start(): Promise<() => void> {
    // Both subscriptions at once (each is a round trip to the app), and both before the status is
    // asked for, so no change is missed between the answer and the subscription.
    const subscribed = await Promise.allSettled([
      api.onStatusChanged((s) => this.setStatus(s)),
      api.onActivity((e) => this.addActivity(e)),
    ]);
    const unlisten = subscribed.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const failed = subscribed.find((r) => r.status === "rejected");
    if (failed) this.statusError = toErrorDto(failed.reason);
    else performance.mark("signet:listening");
    await Promise.all([this.loadStatus(), this.loadConfig()]);
    return () => unlisten.forEach((u) => u());
  }

  setStatus(s: StatusDto): void {
    // The first status of the page: a mark for the benchmark's open → first paint split.
    if (this.status === null) performance.mark("signet:status-loaded");
    this.#statusVersion += 1;
    this.status = s;
    this.statusError = null;
    this.#settleSignIn(s);
    if (this.config && namesOfStatus(s) !== namesOfConfig(this.config)) void this.loadConfig();
  }

  /** Loads the status; an event that arrived meanwhile is newer and wins. */
  async loadStatus(): Promise<void> {
    const before = this.#statusVersion;
    try {
      const s = await api.status();
      if (this.#statusVersion === before) this.setStatus(s);
    } catch (e) {
      if (this.status === null) this.statusError = toErrorDto(e);
      else this.feedback = `Could not refresh the status: ${toErrorDto(e).message}`;
    }
  }

  async loadConfig(): Promise<void> {
    if (this.#configLoading) return this.#configLoading;
    this.#configLoading = (async () => {
      try {
        this.config = await api.config();
        this.configError = null;
      } catch (e) {
        this.configError = toErrorDto(e);
      } finally {
        this.#configLoading = null;
      }
    })();
    return this.#configLoading;
  }

  async loadActivity(): Promise<void> {
    try {
      const loaded = await api.activity();
      const seen = new Set(loaded.map(activityKey));
      // Entries that arrived as events while loading and are not in the answer yet.
      const early = (this.activity ?? []).filter((e) => !seen.has(activityKey(e)));
      this.activity = [...early, ...loaded].slice(0, ACTIVITY_LIMIT);
      this.activityError = null;
    } catch (e) {
      this.activityError = toErrorDto(e);
    }
  }

  addActivity(entry: ActivityEntry): void {
    const list = this.activity ?? [];
    if (list.some((e) => activityKey(e) === activityKey(entry))) return;
    this.activity = [entry, ...list].slice(0, ACTIVITY_LIMIT);
    if (entry.kind === "config_changed") void this.loadConfig();
  }

  /** Shows a switch at once (the status event follows) and says so in the status line. */
  contextSwitched(sw: ContextSwitched, cluster: string): void {
    if (this.status) {
      this.status.currentContext = sw.context;
      for (const p of this.status.providers) {
        for (const c of p.clusters) {
          c.current = c.context === sw.context;
          if (c.name === cluster) c.namespace = sw.namespace;
        }
      }
    }
    this.feedback = sw.namespace ? `Switched to ${sw.context} (namespace ${sw.namespace}).` : `Switched to ${sw.context}.`;
  }

  /** Starts a sign-in; the outcome arrives as a status event. Returns the failure to show, if any. */
  async signIn(provider: string): Promise<ErrorDto | null> {
    this.pending[provider] = "sign-in";
    const mine: { provider: string; text: string | null; running: boolean; outcome: string | null } = {
      provider,
      text: null,
      running: false,
      outcome: null,
    };
    this.#signIn = mine;
    try {
      const r = await api.signIn(provider);
      if (this.#signIn === mine && mine.outcome !== null) {
        this.#signIn = null;
        this.feedback = mine.outcome;
      } else {
        this.feedback = signInStartedText(r);
        if (this.#signIn === mine) mine.text = this.feedback;
      }
      return null;
    } catch (e) {
      if (this.#signIn === mine) this.#signIn = null;
      return toErrorDto(e);
    } finally {
      delete this.pending[provider];
    }
  }

  /** Replaces the "Signing in to …" text with the outcome once a status shows the sign-in is over. */
  #settleSignIn(s: StatusDto): void {
    const mine = this.#signIn;
    if (mine === null) return;
    const p = s.providers.find((x) => x.name === mine.provider);
    if (p === undefined || (mine.text !== null && this.feedback !== mine.text)) {
      // The provider is gone, or something else took the status line.
      this.#signIn = null;
      return;
    }
    if (p.signingIn) {
      mine.running = true;
      mine.outcome = null;
      return;
    }
    // Once its text is shown, a signed-in status ends it even if the running one was missed.
    const signedIn = (p.state === "signed_in" || p.state === "expiring") && p.account !== null;
    if (!mine.running && !(signedIn && mine.text !== null)) return;
    if (mine.text === null) {
      mine.outcome = signInOutcomeText(p);
      return;
    }
    this.#signIn = null;
    this.feedback = signInOutcomeText(p);
  }

  async signOut(provider: string): Promise<ErrorDto | null> {
    this.pending[provider] = "sign-out";
    try {
      const r = await api.signOut(provider);
      this.feedback = signedOutText(r);
      await this.loadStatus();
      return null;
    } catch (e) {
      return toErrorDto(e);
    } finally {
      delete this.pending[provider];
    }
  }

  navigate(view: View, intent: Intent | null = null): void {
    this.intent = intent;
    this.view = view;
  }

  /** Hands the pending intent to the view it is for, once. */
  takeIntent<V extends Intent["view"]>(view: V): Extract<Intent, { view: V }> | null {
    const i = this.intent;
    if (i && i.view === view) {
      this.intent = null;
      return i as Extract<Intent, { view: V }>;
    }
    return null;
  }
}
