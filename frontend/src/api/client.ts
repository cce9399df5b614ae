// The one way the UI talks to the API: JSON over fetch, cookie session + X-CSRF-Token, problem+json errors.
import type { Invitation, InvitationCreated, InvitationPreview, Member, Organization, OrgRole } from "./types";

export const CSRF_COOKIE = "wirework_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
  node_id?: string | null;
  field?: string | null;
}

/** An RFC 9457 problem answered by the API (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail || title);
  }

  /** The message for the field at `path` (the part of `loc` after "body"), if any. */
  fieldMessage(path: string): string | undefined {
    const hit = this.errors.find((e) => {
      const loc = e.loc[0] === "body" ? e.loc.slice(1) : e.loc;
      return loc.join(".") === path;
    });
    return hit?.msg;
  }

  /** Validation errors of a workflow definition, by node id. */
  nodeErrors(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const e of this.errors) {
      if (!e.node_id) continue;
      (out[e.node_id] ??= []).push(e.field ? `${e.field}: ${e.msg}` : e.msg);
    }
    return out;
  }
}

/** What some patterns of the API mean, for people (pydantic's message shows the regex). */
const PATTERNS: Record<string, string> = {
  "^[A-Za-z0-9_.-]+$": "use only letters, digits, '.', '_' or '-'",
  "^[a-z0-9]+(-[a-z0-9]+)*$": "use only lower-case letters and digits, with single '-' between words",
  "^[A-Za-z_][A-Za-z0-9_]{0,99}$": "use letters, digits or '_', not starting with a digit",
};

/** A validation message a person can act on: "String should match pattern '…'" said in words. */
export function readableMessage(msg: string): string {
  const m = /^String should match pattern '(.*)'$/.exec(msg);
  if (!m) return msg;
  return PATTERNS[m[1]] ?? "this is not in the form expected here";
}

export function readCookie(name: string, cookies: string = document.cookie): string | undefined {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when any request answers 401 (the session ended): the app shows the login page. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | null | undefined>;
  body?: unknown;
  /** Do not announce a 401 (used by the first /auth/me probe). */
  quiet401?: boolean;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const url = new URL(path.startsWith("/") ? path : `/api/v1/${path}`, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method)) {
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, "Network error", "The server could not be reached.");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const problem = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
    const error = new ApiError(
      response.status,
      String(problem.title ?? response.statusText),
      String(problem.detail ?? problem.title ?? `Request failed (${response.status}).`),
      Array.isArray(problem.errors) ? (problem.errors as FieldError[]).map((e) => ({ ...e, msg: readableMessage(e.msg) })) : [],
    );
    if (response.status === 401 && !options.quiet401) unauthorizedListeners.forEach((l) => l());
    throw error;
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: RequestOptions["query"]) => request<T>("GET", path, { query }),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, { body: body ?? {} }),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, { body }),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, { body }),
  delete: (path: string) => request<void>("DELETE", path),
};

/** Members of an organization: list, change a role, remove (or leave: remove yourself). */
export const members = {
  list: (orgId: string) => api.get<Member[]>(`orgs/${orgId}/members`),
  setRole: (orgId: string, userId: string, role: OrgRole) =>
    api.patch<Member>(`orgs/${orgId}/members/${userId}`, { role }),
  remove: (orgId: string, userId: string) => api.delete(`orgs/${orgId}/members/${userId}`),
};

/** Invitations to an organization (admins), and accepting one (the invitee). */
export const invitations = {
  list: (orgId: string) => api.get<Invitation[]>(`orgs/${orgId}/invitations`),
  create: (orgId: string, email: string, role: OrgRole) =>
    api.post<InvitationCreated>(`orgs/${orgId}/invitations`, { email, role }),
  revoke: (orgId: string, invitationId: string) => api.delete(`orgs/${orgId}/invitations/${invitationId}`),
  /** The organization, role and email of a valid invitation, without using it (no login). */
  preview: (token: string) => api.post<InvitationPreview>("invitations/preview", { token }),
  /** Join the invitation's organization; gives that organization, with your role. */
  accept: (token: string) => api.post<Organization>("invitations/accept", { token }),
};

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}
