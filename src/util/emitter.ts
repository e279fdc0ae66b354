// A minimal typed event emitter that runs in browsers and Node alike (model/ and client/
// must not import node:events). Listener errors propagate to the emitter's caller, as with
// Node's EventEmitter.

// biome-ignore lint/suspicious/noExplicitAny: listener argument lists are declared per event map
type Listener = (...args: any[]) => unknown;

export class Emitter<Events extends { [K in keyof Events]: Listener } = Record<string, Listener>> {
  // Created on first use: most emitters (sessions, connections) hold few listeners, and an
  // empty Map still costs a hash table per instance.
  #map: Map<keyof Events, Listener[]> | null = null;

  get #listeners(): Map<keyof Events, Listener[]> {
    if (this.#map === null) this.#map = new Map();
    return this.#map;
  }

  on<K extends keyof Events>(event: K, listener: Events[K]): this {
    const list = this.#listeners.get(event);
    if (list) list.push(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  /** Adds a listener that runs before every listener added so far. */
  prependListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    const list = this.#listeners.get(event);
    if (list) list.unshift(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  addListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.on(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Events[K]): this {
    const wrapper = ((...args: unknown[]) => {
      this.off(event, wrapper as Events[K]);
      return listener(...args);
    }) as Events[K];
    return this.on(event, wrapper);
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): this {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeListener<K extends keyof Events>(event: K, listener: Events[K]): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  /** A copy of the listeners of `event`, in registration order. */
  listeners<K extends keyof Events>(event: K): Events[K][] {
    return (this.#map?.get(event)?.slice() ?? []) as Events[K][];
  }

  listenerCount(event: keyof Events): number {
    return this.#map?.get(event)?.length ?? 0;
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): boolean {
    const list = this.#map?.get(event);
    if (!list) return false;
    if (list.length === 1) list[0]!(...args);
    else for (const l of list.slice()) l(...args);
    return true;
  }
}
