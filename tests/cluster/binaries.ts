/**
 * Finds or builds the binaries of the test cluster: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kubectl.
 *
 * Order of preference, per binary:
 * 1. `KUBEBUILDER_ASSETS` (the envtest convention) when it holds the binary;
 * 2. the cache, `$KTHENA_CACHE_DIR/cluster/<k8s version>/bin` (default `.cache/` in the
 *    repository, git-ignored);
 * 3. a build with this machine's Go toolchain from the versions pinned in
 *    `tests/cluster/tools/go.mod`, written into the cache. Only the first run pays.
 *
 * @module
 */

/** Paths of the cluster binaries. */
export interface ClusterBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  /** The Kubernetes version the binaries were built from (or "external"). */
  version: string;
}

const TOOLS_DIR = new URL("./tools/", import.meta.url);
const REPO_ROOT = new URL("../../", import.meta.url);

/** Import path of each binary in the tools module. */
const PACKAGES = {
  kubeApiserver: ["kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"],
  kubeControllerManager: [
    "kube-controller-manager",
    "k8s.io/kubernetes/cmd/kube-controller-manager",
  ],
  kubectl: ["kubectl", "k8s.io/kubernetes/cmd/kubectl"],
  kubeScheduler: ["kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"],
  etcd: ["etcd", "go.etcd.io/etcd/server/v3"],
} as const;

type BinaryKey = keyof typeof PACKAGES;

/**
 * The Kubernetes version pinned in `tests/cluster/tools/go.mod`.
 *
 * @example
 * ```ts
 * import { pinnedKubernetesVersion } from "./binaries.ts";
 * await pinnedKubernetesVersion(); // "v1.37.2"
 * ```
 */
export async function pinnedKubernetesVersion(): Promise<string> {
  const gomod = await Deno.readTextFile(new URL("go.mod", TOOLS_DIR));
  const m = gomod.match(/^\s*k8s\.io\/kubernetes (v\S+)/m);
  if (!m?.[1]) throw new Error("k8s.io/kubernetes is not pinned in tests/cluster/tools/go.mod");
  return m[1];
}

/**
 * The cache directory of the cluster binaries.
 *
 * @example
 * ```ts
 * import { binaryCacheDir } from "./binaries.ts";
 * await binaryCacheDir(); // ".../.cache/cluster/v1.37.2/bin"
 * ```
 */
export async function binaryCacheDir(): Promise<string> {
  const base = Deno.env.get("KTHENA_CACHE_DIR") ?? new URL(".cache", REPO_ROOT).pathname;
  return `${base}/cluster/${await pinnedKubernetesVersion()}/bin`;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Returns the paths of all five binaries, building the missing ones (several minutes on a cold
 * machine; progress goes to `log`). Concurrent callers wait on one build through a lock file.
 *
 * @example
 * ```ts
 * import { ensureBinaries } from "./binaries.ts";
 * const bins = await ensureBinaries();
 * ```
 */
export async function ensureBinaries(
  log: (line: string) => void = () => {},
): Promise<ClusterBinaries> {
  const version = await pinnedKubernetesVersion();
  const cache = await binaryCacheDir();
  const assets = Deno.env.get("KUBEBUILDER_ASSETS");
  const found: Partial<Record<BinaryKey, string>> = {};
  const missing: BinaryKey[] = [];
  for (const key of Object.keys(PACKAGES) as BinaryKey[]) {
    const [file] = PACKAGES[key];
    if (assets && await isExecutable(`${assets}/${file}`)) found[key] = `${assets}/${file}`;
    else if (await isExecutable(`${cache}/${file}`)) found[key] = `${cache}/${file}`;
    else missing.push(key);
  }
  if (missing.length > 0) {
    await Deno.mkdir(cache, { recursive: true });
    await withLock(`${cache}/.build.lock`, log, async () => {
      // Another process may have built them while we waited for the lock.
      const still: BinaryKey[] = [];
      for (const key of missing) {
        if (await isExecutable(`${cache}/${PACKAGES[key][0]}`)) {
          found[key] = `${cache}/${PACKAGES[key][0]}`;
        } else still.push(key);
      }
      if (still.length > 0) await build(still, cache, version, log);
      for (const key of still) found[key] = `${cache}/${PACKAGES[key][0]}`;
    });
  }
  return {
    etcd: found.etcd!,
    kubeApiserver: found.kubeApiserver!,
    kubeControllerManager: found.kubeControllerManager!,
    kubeScheduler: found.kubeScheduler!,
    kubectl: found.kubectl!,
    version: assets ? "external" : version,
  };
}

async function build(
  keys: BinaryKey[],
  cache: string,
  version: string,
  log: (line: string) => void,
): Promise<void> {
  const minor = version.split(".")[1] ?? "0";
  // Version stamps make `kubectl version` and the apiserver's /version tell the truth.
  const ldflags = [
    "-s -w",
    `-X k8s.io/component-base/version.gitVersion=${version}`,
    "-X k8s.io/component-base/version.gitMajor=1",
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    "-X k8s.io/component-base/version.gitTreeState=clean",
  ].join(" ");
  const tmp = `${cache}/.tmp-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    for (const key of keys) {
      const [file, pkg] = PACKAGES[key];
      const started = performance.now();
      log(`building ${file} from ${pkg} (Go, ${version}); the first build takes minutes`);
      const heartbeat = setInterval(() => {
        log(`still building ${file} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }, 30_000);
      const out = await new Deno.Command("go", {
        args: ["build", "-trimpath", "-ldflags", ldflags, "-o", `${tmp}/${file}`, pkg],
        cwd: TOOLS_DIR,
        env: { GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
        stdout: "piped",
        stderr: "piped",
      }).output().finally(() => clearInterval(heartbeat));
      if (!out.success) {
        const err = new TextDecoder().decode(out.stderr);
        throw new Error(`go build ${pkg} failed:\n${err.slice(-4000)}`);
      }
      // Rename is atomic: a half-written binary is never seen in the cache.
      await Deno.rename(`${tmp}/${file}`, `${cache}/${file}`);
      log(`built ${file} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Runs `fn` while holding an exclusive lock file (polling; the build is minutes long). */
async function withLock<T>(
  path: string,
  log: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const deadline = started + 60 * 60_000;
  let lastSaid = 0;
  for (;;) {
    try {
      const f = await Deno.open(path, { createNew: true, write: true });
      await f.write(new TextEncoder().encode(String(Deno.pid)));
      f.close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      if (await staleLock(path)) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
      if (Date.now() - lastSaid >= 30_000) {
        lastSaid = Date.now();
        log(
          `another process is building the cluster binaries (lock ${path}); waiting, ${
            Math.round((Date.now() - started) / 1000)
          } s so far`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/** A lock whose owner process is gone is stale. */
async function staleLock(path: string): Promise<boolean> {
  const pid = Number(await Deno.readTextFile(path).catch(() => ""));
  if (!pid) return false;
  try {
    await Deno.stat(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}
