// Every failure the UI shows is an ErrorDto: a stable code and a message that says what to do next.
import type { ErrorDto } from "../generated/ErrorDto";

/** True for the `{code, message}` objects that Signet's commands reject with. */
export function isErrorDto(e: unknown): e is ErrorDto {
  if (typeof e !== "object" || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.code === "string" && typeof o.message === "string";
}

/** Normalises anything thrown or rejected into an ErrorDto (unknown shapes become `app.internal`). */
export function toErrorDto(e: unknown): ErrorDto {
  if (isErrorDto(e)) return { code: e.code, message: e.message };
  return { code: "app.internal", message: String(e) };
}
