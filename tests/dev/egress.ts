/**
 * Watches the sockets of a process tree and records every one whose peer is outside
 * 127.0.0.0/8 (or `::1`): the proof that the stack never leaves loopback.
 *
 * How: every `intervalMs` it walks `/proc` for the descendants of a root PID, collects their
 * socket inodes (`/proc/<pid>/fd/* → socket:[inode]`) and looks them up in
 * `/proc/net/{tcp,tcp6,udp,udp6}`. A socket with a remote address other than loopback or
 * the unspecified address (a listener, an unconnected UDP socket) is a violation, and so is a
 * TCP listener bound to anything but loopback (`0.0.0.0` included). Sampling
 * misses a connection that opens and closes between two samples, but a dial to an address
 * that is not on this machine (a ClusterIP, a DNS server) sits in SYN_SENT or waits for an
 * answer for far longer than one interval. No LD_PRELOAD or privileges needed. Linux only.
 *
 * @module
 */

/** A socket seen talking to, or listening on, a non-loopback address. */
export interface EgressViolation {
  /** `dial`: a peer outside loopback; `listen`: a listener on a non-loopback address. */
  kind: "dial" | "listen";
  pid: number;
  command: string;
  protocol: string;
  local: string;
  remote: string;
}

/**
 * Decodes an address of `/proc/net/tcp*` (`0100007F:1F90`, little-endian words) to
 * `ip:port`.
 *
 * @example
 * ```ts
 * import { decodeProcAddress } from "./egress.ts";
 * decodeProcAddress("0100007F:1F90"); // "127.0.0.1:8080"
 * ```
 */
export function decodeProcAddress(hex: string): string {
  const [addr = "", portHex = "0"] = hex.split(":");
  const port = parseInt(portHex, 16);
  if (addr.length === 8) {
    const b = addr.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
    return `${b.join(".")}:${port}`;
  }
  // IPv6: four 32-bit words, each little-endian.
  const words = addr.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => w.match(/../g)!.map((x) => parseInt(x, 16)).reverse());
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const v6 = groups.join(":");
  if (v6.startsWith("0:0:0:0:0:ffff:")) {
    return `${bytes.slice(12).join(".")}:${port}`; // IPv4-mapped
  }
  return `[${v6}]:${port}`;
}

/**
 * Whether an `ip:port` from {@linkcode decodeProcAddress} stays on this machine's loopback
 * (or is unspecified: no peer).
 *
 * @example
 * ```ts
 * import { isLoopbackOrUnset } from "./egress.ts";
 * isLoopbackOrUnset("127.1.0.3:8000"); // true
 * isLoopbackOrUnset("10.96.0.1:443"); // false
 * ```
 */
export function isLoopbackOrUnset(addr: string): boolean {
  const host = addr.replace(/:\d+$/, "");
  return host.startsWith("127.") || /^0\.0\.0\.0$/.test(host) || host === "[0:0:0:0:0:0:0:1]" ||
    host === "[0:0:0:0:0:0:0:0]";
}

/** Whether an `ip:port` is on 127.0.0.0/8 or `::1`. */
function isLoopback(addr: string): boolean {
  const host = addr.replace(/:\d+$/, "");
  return host.startsWith("127.") || host === "[0:0:0:0:0:0:0:1]";
}

/** PIDs of `root` and all its descendants. */
export async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    // pid (comm) state ppid …; comm may hold spaces and parentheses.
    const m = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (m[1]) parent.set(Number(e.name), Number(m[1]));
  }
  const out = [root];
  const seen = new Set(out);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!seen.has(pid) && seen.has(ppid)) {
        seen.add(pid);
        out.push(pid);
        grew = true;
      }
    }
  }
  return out;
}

/** One look at the sockets of the tree under `root`. */
/**
 * What is wrong with one socket of `/proc/net/<protocol>`, if anything: a listener not on
 * loopback, or a peer outside 127.0.0.0/8.
 *
 * @example
 * ```ts
 * import { socketOffence } from "./egress.ts";
 * // A TCP listener on 0.0.0.0:8080 (state 0A), as /proc/net/tcp shows it.
 * socketOffence("tcp", "0: 00000000:1F90 00000000:0000 0A 0 0 0 0 0 12345")?.kind; // "listen"
 * ```
 */
export function socketOffence(
  protocol: string,
  line: string,
): { kind: "listen" | "dial"; local: string; remote: string } | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 4) return undefined;
  const local = decodeProcAddress(f[1]!);
  const remote = decodeProcAddress(f[2]!);
  const listening = protocol.startsWith("tcp") && f[3] === "0A";
  if (listening ? isLoopback(local) : isLoopbackOrUnset(remote)) return undefined;
  return { kind: listening ? "listen" : "dial", local, remote };
}

export async function sampleEgress(root: number = Deno.pid): Promise<EgressViolation[]> {
  const owner = new Map<string, number>();
  for (const pid of await descendants(root)) {
    try {
      for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
        const link = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => "");
        const m = link.match(/^socket:\[(\d+)\]$/);
        if (m) owner.set(m[1]!, pid);
      }
    } catch { /* gone, or not ours */ }
  }
  const out: EgressViolation[] = [];
  for (const protocol of ["tcp", "tcp6", "udp", "udp6"]) {
    const text = await Deno.readTextFile(`/proc/net/${protocol}`).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const pid = owner.get(f[9]!);
      if (pid === undefined) continue;
      const offence = socketOffence(protocol, line);
      if (!offence) continue;
      const { kind, local, remote } = offence;
      const command = await Deno.readTextFile(`/proc/${pid}/cmdline`).then((c) =>
        c.replaceAll("\0", " ").trim().slice(0, 200)
      ).catch(() => "?");
      out.push({ kind, pid, command, protocol, local, remote });
    }
  }
  return out;
}

/**
 * Samples in the background until `stop()`, which returns every violation seen.
 *
 * @example
 * ```ts ignore
 * import { watchEgress } from "./egress.ts";
 * const watch = watchEgress();
 * // … run the stack …
 * const violations = await watch.stop(); // []
 * ```
 */
export function watchEgress(
  root: number = Deno.pid,
  intervalMs = 250,
): { stop(): Promise<EgressViolation[]>; samples(): number } {
  const seen = new Map<string, EgressViolation>();
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      for (const v of await sampleEgress(root)) seen.set(`${v.pid} ${v.local} ${v.remote}`, v);
      n++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    samples: () => n,
    async stop() {
      running = false;
      await loop;
      return [...seen.values()];
    },
  };
}
