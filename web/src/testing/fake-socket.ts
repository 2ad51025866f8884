// A fake Socket.IO client, as socket.io's client-testing guide suggests:
// it implements only what lib/socket.ts uses, records what the client
// emits, and lets a test play the server.
import { vi } from "vitest";
import type { ChatSocket } from "../lib/socket";
import type { Ack, ClientToServerEvents, ServerToClientEvents } from "../types/events";

type Listener = (...args: never[]) => void;

export interface Emitted {
  event: keyof ClientToServerEvents;
  payload: unknown;
  /** Answers the call as the server would. */
  ack(reply: Ack<Record<string, unknown>>): void;
  /** Lets the call time out. */
  timeout(): void;
}

export class FakeSocket {
  connected = false;
  active = false;
  readonly emitted: Emitted[] = [];
  readonly connect = vi.fn(() => {
    this.active = true;
  });
  readonly disconnect = vi.fn(() => {
    const wasConnected = this.connected;
    this.connected = false;
    this.active = false;
    if (wasConnected) this.fire("disconnect", "io client disconnect");
  });
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly managerListeners = new Map<string, Set<Listener>>();

  readonly io = {
    on: (event: string, listener: Listener) => {
      add(this.managerListeners, event, listener);
      return this.io;
    },
    off: (event: string, listener: Listener) => {
      this.managerListeners.get(event)?.delete(listener);
      return this.io;
    },
  };

  on(event: string, listener: Listener): this {
    add(this.listeners, event, listener);
    return this;
  }

  off(event: string, listener?: Listener): this {
    if (listener) this.listeners.get(event)?.delete(listener);
    else this.listeners.delete(event);
    return this;
  }

  /** emit(event, payload?, ack?): an event without a payload (get_lists) has only its ack. */
  emit(event: keyof ClientToServerEvents, ...args: unknown[]): this {
    const { payload, callback } = split<(reply: Ack<Record<string, unknown>>) => void>(args);
    this.record(event, payload, (err, reply) => {
      if (!err && reply) callback?.(reply);
    });
    return this;
  }

  timeout(_ms: number) {
    return {
      emit: (event: keyof ClientToServerEvents, ...args: unknown[]) => {
        const { payload, callback } = split<(err: Error | null, reply?: Ack<Record<string, unknown>>) => void>(args);
        this.record(event, payload, (err, reply) => callback?.(err, reply));
      },
    };
  }

  /** The socket as lib/socket.ts sees it. */
  asSocket(): ChatSocket {
    return this as unknown as ChatSocket;
  }

  // --- the server's side ---

  /**
   * The connection opens. A server can only accept a connection the client
   * opened: before connect() was called this throws, so that a test which
   * plays the server too early (before the client's effects subscribed)
   * fails every time instead of only when the machine is slow.
   */
  serverConnect(): void {
    if (!this.active) throw new Error("serverConnect before the client called connect()");
    this.connected = true;
    this.active = true;
    this.fire("connect");
  }

  serverEmit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    this.fire(event, ...args);
  }

  /** The connection drops; reason as socket.io names it. */
  serverDisconnect(reason: string): void {
    this.connected = false;
    this.active = reason !== "io server disconnect";
    this.fire("disconnect", reason);
  }

  /** The server refuses the connection; like serverConnect, only one the client opened. */
  connectError(message: string): void {
    if (!this.active) throw new Error("connectError before the client called connect()");
    this.active = message !== "invalid_token";
    this.fire("connect_error", new Error(message));
  }

  reconnectAttempt(attempt: number): void {
    for (const listener of [...(this.managerListeners.get("reconnect_attempt") ?? [])]) {
      (listener as (n: number) => void)(attempt);
    }
  }

  /** The calls the client made for an event, oldest first. */
  calls(event: keyof ClientToServerEvents): Emitted[] {
    return this.emitted.filter((e) => e.event === event);
  }

  listenerCount(event: string): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  private record(
    event: keyof ClientToServerEvents,
    payload: unknown,
    callback: (err: Error | null, reply?: Ack<Record<string, unknown>>) => void,
  ) {
    this.emitted.push({
      event,
      payload,
      ack: (reply) => callback(null, reply),
      timeout: () => callback(new Error("operation has timed out")),
    });
  }

  private fire(event: string, ...args: unknown[]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      (listener as (...a: unknown[]) => void)(...args);
    }
  }
}

/** The payload (undefined when none) and the ack callback of an emit's arguments. */
function split<C>(args: unknown[]): { payload: unknown; callback: C | undefined } {
  const last = args[args.length - 1];
  if (typeof last === "function") return { payload: args.length > 1 ? args[0] : undefined, callback: last as C };
  return { payload: args[0], callback: undefined };
}

function add(map: Map<string, Set<Listener>>, event: string, listener: Listener) {
  const set = map.get(event) ?? new Set();
  set.add(listener);
  map.set(event, set);
}
