// autobahn-browser ships a UMD bundle without types: the part of its API the page uses.
declare module 'autobahn-browser' {
  export interface Session {
    subscribe(topic: string, handler: (args: unknown[], kwargs: Record<string, unknown>) => void, options?: Record<string, unknown>): Promise<unknown>;
    call<T = unknown>(procedure: string, args?: unknown[], kwargs?: Record<string, unknown>): Promise<T>;
  }
  export interface ConnectionOptions {
    url: string;
    realm: string;
    authmethods?: string[];
    authid?: string;
    onchallenge?: (session: Session, method: string, extra: unknown) => string;
    max_retries?: number;
    initial_retry_delay?: number;
    max_retry_delay?: number;
    retry_delay_growth?: number;
  }
  export class Connection {
    constructor(options: ConnectionOptions);
    onopen: (session: Session, details: unknown) => void;
    onclose: (reason: string, details: { reason?: string | null; message?: string | null; will_retry?: boolean }) => boolean | void;
    open(): void;
    close(reason?: string, message?: string): void;
  }
  const autobahn: { Connection: typeof Connection };
  export default autobahn;
}
