// The run and its live state (not part of undo history).
import { create } from 'zustand';
import { api, ApiError, clockSpeed, parseSpeed, type Run } from './lib/api';
import { emptyLive, onClock, onPackets, onSettle, onWindow, type LiveState } from './lib/live';
import { Bus } from './lib/wamp';
import type { FieldError } from './lib/validate';

export interface ForkState {
  id: string;
  set: string[];
  status: 'running' | 'finished' | 'failed';
  summary: Record<string, unknown> | null;
  error: string | null;
}

interface RunState {
  run: Run | null;
  live: LiveState;
  bus: Bus | null;
  busError: string | null;
  /** Why the last control call (pause, resume, speed, set, fork) failed. */
  controlError: string | null;
  serverErrors: FieldError[];
  busy: boolean;
  paused: boolean;
  fork: ForkState | null;
  start(yaml: string, speed: string, until: string): Promise<void>;
  stop(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  setSpeed(speed: string): Promise<void>;
  setLive(device: string, name: string, value: unknown): Promise<string>;
  whatIf(set: string[], until?: string): Promise<void>;
}

let poll: ReturnType<typeof setInterval> | null = null;
let connecting = false;
const FINAL = ['finished', 'failed', 'stopped'];

export const useRun = create<RunState>()((set, get) => ({
  run: null,
  live: emptyLive(),
  bus: null,
  busError: null,
  controlError: null,
  serverErrors: [],
  busy: false,
  paused: false,
  fork: null,

  start: async (yaml, speedText, until) => {
    get().bus?.close();
    if (poll) clearInterval(poll);
    buffer = null;
    set({ busy: true, serverErrors: [], busError: null, fork: null, live: emptyLive(), bus: null, paused: false });
    try {
      const speed = parseSpeed(speedText);
      const v = await api.validate(yaml);
      if (!v.ok) {
        set({ serverErrors: v.errors, busy: false });
        return;
      }
      const run = await api.startRun({ yaml, speed, until: until.trim() || undefined });
      set({ run });
      const refresh = async () => {
        try {
          const r = await api.run(run.id);
          set({ run: r });
          if (r.wamp && !get().bus && !connecting && !get().busError && r.status === 'running') await connect(r);
          if (FINAL.includes(r.status)) {
            if (poll) clearInterval(poll);
            poll = null;
            // the run's router is gone with the run
            get().bus?.close();
            set({ bus: null, paused: false });
          }
        } catch (e) {
          set({ busError: (e as Error).message });
        }
      };
      poll = setInterval(refresh, 1000);
      await refresh();
    } catch (e) {
      if (e instanceof ApiError && e.errors.length) set({ serverErrors: e.errors });
      else set({ busError: (e as Error).message });
    } finally {
      set({ busy: false });
    }
  },

  stop: async () => {
    const r = get().run;
    if (r) set({ run: await api.stopRun(r.id) });
  },

  pause: () => control(async (b) => {
    const c = await b.pause();
    update((l) => onClock(l, c));
    useRun.setState({ paused: c.state === 'paused' });
  }),

  resume: () => control(async (b) => {
    const c = await b.resume();
    update((l) => onClock(l, c));
    useRun.setState({ paused: c.state === 'paused' });
  }),

  setSpeed: (speed) => control(async (b) => {
    const c = await b.setSpeed(clockSpeed(parseSpeed(speed)));
    update((l) => onClock(l, c));
  }),

  setLive: async (device, name, value) => {
    const b = get().bus;
    if (!b) throw new Error('no running home');
    try {
      const r = await b.set(device, name, value);
      return `${device}.${r.name} = ${JSON.stringify(r.value)}`;
    } catch (e) {
      throw new Error(wampError(e));
    }
  },

  whatIf: async (setList, until) => {
    const b = get().bus;
    const run = get().run;
    if (!b || !run) throw new Error('start a run first: the what-if forks the running home');
    let reply;
    try {
      reply = await b.fork(setList, until);
    } catch (e) {
      throw new Error(wampError(e));
    }
    set({ fork: { id: reply.fork_id, set: setList, status: 'running', summary: null, error: null } });
    // the end comes on homesim.clock.forked; the API is asked too (a page that joined late)
    const check = async () => {
      const f = get().fork;
      if (!f || f.id !== reply.fork_id || f.status !== 'running') return;
      try {
        const r = await api.fork(run.id, reply.fork_id);
        if (r.summary) set({ fork: { ...f, status: 'finished', summary: r.summary } });
        else setTimeout(check, 1500);
      } catch {
        setTimeout(check, 3000);
      }
    };
    setTimeout(check, 1500);
  },
}));

/** A WAMP error as people read it: its URI and first argument. */
export function wampError(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'error' in e) {
    const w = e as { error: string; args?: unknown[]; kwargs?: Record<string, unknown> };
    const why = w.args?.[0] ?? w.kwargs?.reason ?? w.kwargs?.message;
    return why ? `${w.error}: ${String(why)}` : w.error;
  }
  return String(e);
}

async function control(f: (b: Bus) => Promise<void>): Promise<void> {
  const b = useRun.getState().bus;
  if (!b) return;
  useRun.setState({ controlError: null });
  try {
    await f(b);
  } catch (e) {
    useRun.setState({ controlError: wampError(e) });
  }
}

// Bus messages update a buffer; the page re-renders from it at most 4 times a second (a run at
// speed max publishes far more windows than a person can read).
let buffer: LiveState | null = null;
let flush: ReturnType<typeof setTimeout> | null = null;

function update(f: (s: LiveState) => LiveState): void {
  buffer = f(buffer ?? useRun.getState().live);
  if (flush === null) {
    flush = setTimeout(() => {
      flush = null;
      if (buffer) useRun.setState({ live: buffer });
      buffer = null;
    }, 250);
  }
}

async function connect(r: Run): Promise<void> {
  const set = useRun.setState;
  const get = useRun.getState;
  connecting = true;
  try {
    const bus = await Bus.open(r.wamp!, {
      window: (w) => update((l) => onWindow(l, w)),
      packets: (p) => update((l) => onPackets(l, p)),
      settle: (s) => update((l) => onSettle(l, s)),
      clock: (c) => {
        update((l) => onClock(l, c));
        if ((c.state === 'paused') !== get().paused) set({ paused: c.state === 'paused' });
      },
      finished: () => undefined,
      forked: (f) => {
        const cur = get().fork;
        if (cur && cur.id === f.fork_id) {
          set({ fork: { ...cur, status: f.ok ? 'finished' : 'failed', summary: f.summary ?? null, error: f.error ?? null } });
        }
      },
      closed: () => set({ bus: null }),
    });
    if (get().run?.id !== r.id || FINAL.includes(get().run?.status ?? '')) bus.close();
    else set({ bus });
  } catch (e) {
    if (get().run?.id === r.id && !FINAL.includes(get().run?.status ?? '')) set({ busError: (e as Error).message });
  } finally {
    connecting = false;
  }
}
