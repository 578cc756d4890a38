// A stand-in for src/lib/api.ts: every command and event subscription is a vi.fn().
// Use with `vi.mock("../lib/api", () => import("../test/apiMock"))`.
import { vi } from "vitest";
import type { Api } from "../lib/api";

export const EVENTS = { statusChanged: "signet:status-changed", activity: "signet:activity" } as const;

export const api = {
  status: vi.fn(),
  config: vi.fn(),
  activity: vi.fn(),
  signIn: vi.fn(),
  signOut: vi.fn(),
  useContext: vi.fn(),
  listNamespaces: vi.fn(),
  openKubeconfigLocation: vi.fn(),
  discover: vi.fn(),
  saveProvider: vi.fn(),
  removeProvider: vi.fn(),
  probeServer: vi.fn(),
  addCluster: vi.fn(),
  removeCluster: vi.fn(),
  testCluster: vi.fn(),
  importPreview: vi.fn(),
  importApply: vi.fn(),
  saveSettings: vi.fn(),
  onStatusChanged: vi.fn(),
  onActivity: vi.fn(),
} satisfies Record<keyof Api, unknown>;
