// The page on a run's router (autobahn-browser over WebSocket, ticket auth as `manager`):
// subscribes to the clock, packets and settles, calls pause / resume / set_speed, a device's
// live `set`, and the clock's fork. Topic URIs come from schemas/topics.py (generated).
import type { ClockStatus, ClockWindow, ForkReply, Forked, JoulePackets, Settle, ValueReply } from '../generated/models';
import T from '../generated/topics.json';
import type { WampAccess } from './api';

export interface BusHandlers {
  window(w: ClockWindow): void;
  packets(p: JoulePackets): void;
  settle(s: Settle): void;
  clock(c: ClockStatus): void;
  finished(): void;
  forked(f: Forked): void;
  closed(reason: string): void;
}

type Session = import('autobahn-browser').Session;
type Connection = import('autobahn-browser').Connection;

const payload = (args: unknown[], kwargs: Record<string, unknown>): unknown =>
  kwargs && Object.keys(kwargs).length ? kwargs : args?.[0];

export class Bus {
  private constructor(private readonly conn: Connection, private readonly session: Session) {}

  /** Join the run's realm and subscribe. @throws Error when the router refuses or is unreachable. */
  static async open(access: WampAccess, h: BusHandlers): Promise<Bus> {
    const autobahn = (await import('autobahn-browser')).default;
    const conn = new autobahn.Connection({
      url: access.url, realm: access.realm, authmethods: ['ticket'], authid: access.authid,
      onchallenge: () => access.ticket,
      max_retries: 3, initial_retry_delay: 0.5, max_retry_delay: 5, retry_delay_growth: 1.5,
    });
    const session = await new Promise<Session>((resolve, reject) => {
      let opened = false;
      conn.onopen = (s) => {
        opened = true;
        resolve(s);
      };
      conn.onclose = (reason, details) => {
        if (!opened) {
          // autobahn retries (max_retries) before it gives up
          if (!details?.will_retry) reject(new Error(`router: ${details?.reason ?? reason}`));
          return false;
        }
        h.closed(reason);
        return true; // no retries here: the page's run poll opens a new connection if the run goes on
      };
      conn.open();
    });
    const sub = <M>(topic: string, f: (m: M) => void, match?: 'prefix') =>
      session.subscribe(topic, (a, k) => f(payload(a, k) as M), match ? { match } : undefined);
    await Promise.all([
      sub<ClockWindow>(T.WINDOW, h.window),
      sub<JoulePackets>(T.PACKETS_PREFIX, h.packets, 'prefix'), // homesim.packets.<publisher>
      sub<Settle>(T.SETTLE, h.settle),
      sub<ClockStatus>(T.PROGRESS, h.clock),
      sub<ClockStatus>(T.CONTROL, h.clock),
      sub<unknown>(T.FINISHED, () => h.finished()),
      sub<Forked>(T.CLOCK_FORKED, h.forked),
    ]);
    return new Bus(conn, session);
  }

  pause(): Promise<ClockStatus> {
    return this.session.call<ClockStatus>(T.CLOCK_PAUSE);
  }

  resume(): Promise<ClockStatus> {
    return this.session.call<ClockStatus>(T.CLOCK_RESUME);
  }

  setSpeed(speed: string): Promise<ClockStatus> {
    return this.session.call<ClockStatus>(T.CLOCK_SET_SPEED, [], { speed });
  }

  status(): Promise<ClockStatus> {
    return this.session.call<ClockStatus>(T.CLOCK_STATUS);
  }

  /** Set a live (x-live) property of a running device (homesim.device.<name>.set). */
  set(device: string, name: string, value: unknown): Promise<ValueReply> {
    return this.session.call<ValueReply>(`homesim.device.${device}.set`, [], { name, value });
  }

  /** Fork the running home with changed properties (`["battery.capacity=18000000"]`). */
  fork(set: string[], until?: string): Promise<ForkReply> {
    return this.session.call<ForkReply>(T.CLOCK_FORK, [], { set, until: until || null });
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      /* already closed */
    }
  }
}
