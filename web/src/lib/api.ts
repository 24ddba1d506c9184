// The HTTP API of `homesim serve` (web-api contract): kinds, examples, validate, runs.
// The access token comes from the URL the server prints (`/?token=...`); the page keeps it in
// sessionStorage, removes it from the address bar and sends it as a Bearer token (the server's
// HttpOnly cookie works as well).
import type { Kind } from './registry';
import type { FieldError } from './validate';

const TOKEN_KEY = 'homesim.token';

export function initToken(): void {
  if (typeof window === 'undefined') return;
  const url = new URL(window.location.href);
  const t = url.searchParams.get('token');
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.toString());
  }
}

function headers(json = false): HeadersInit {
  const h: Record<string, string> = {};
  const t = typeof sessionStorage !== 'undefined' ? sessionStorage.getItem(TOKEN_KEY) : null;
  if (t) h.Authorization = `Bearer ${t}`;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly errors: FieldError[] = []) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`api/${path}`, {
    method, headers: headers(body !== undefined), credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const d = (data ?? {}) as { error?: string; message?: string; errors?: FieldError[] };
    throw new ApiError(res.status, d.error ?? 'http', d.message ?? `${res.status} ${res.statusText}`, d.errors ?? []);
  }
  return data as T;
}

export interface Example {
  name: string;
  title: string;
  yaml: string;
}

export interface WampAccess {
  url: string;
  realm: string;
  authid: string;
  ticket: string;
}

export interface Run {
  id: string;
  name: string;
  status: 'starting' | 'running' | 'finished' | 'failed' | 'stopped';
  created: string;
  out: string;
  progress: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  error: string | null;
  wamp: WampAccess | null;
}

export interface ValidateResult {
  ok: boolean;
  kind?: 'Home' | 'Block';
  errors: FieldError[];
}

export const api = {
  kinds: () => call<{ kinds: Kind[] }>('GET', 'kinds'),
  examples: () => call<{ examples: Example[] }>('GET', 'examples'),
  validate: (yaml: string) => call<ValidateResult>('POST', 'validate', { yaml }),
  startRun: (body: { yaml: string; speed: 'max' | number; until?: string; dt?: number }) => call<Run>('POST', 'runs', body),
  run: (id: string) => call<Run>('GET', `runs/${encodeURIComponent(id)}`),
  stopRun: (id: string) => call<Run>('POST', `runs/${encodeURIComponent(id)}/stop`),
  fork: (id: string, forkId: string) => call<{ status: string; summary: Record<string, unknown> | null }>('GET', `runs/${encodeURIComponent(id)}/forks/${encodeURIComponent(forkId)}`),
  reportUrl: (id: string) => `api/runs/${encodeURIComponent(id)}/report`,
};

/** The speed field as the API takes it: "max", or a multiple of real time ("60", "60x"). */
export function parseSpeed(text: string): 'max' | number {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'max') return 'max';
  if (t === 'realtime') return 1;
  const n = Number(t.replace(/x$/, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid speed ${JSON.stringify(text)}: max, realtime or a multiple of real time (e.g. 60)`);
  return n;
}

/** The speed as the clock takes it (homesim.clock.set_speed): max, realtime, 60x. */
export function clockSpeed(speed: 'max' | number): string {
  return speed === 'max' ? 'max' : `${speed}x`;
}
