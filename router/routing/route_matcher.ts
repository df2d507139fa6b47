/**
 * Maps a request to a ModelServer the way upstream's `MatchModelTarget` does (§2.3): routes
 * whose `modelName` is the request's model, oldest first, else routes listing it as a LoRA
 * adapter (flagged `isLora`: the ModelServer's `spec.model` then does not replace it). In each
 * route the first rule whose `modelMatch` holds wins; a route whose rules all miss, or whose
 * matching rule has a total weight of 0, gives way to the next route. Routes with `parentRefs`
 * only bind to Gateways, which this router does not serve yet, so they never match (as upstream
 * outside Gateway mode).
 *
 * One deviation: the weighted choice is made among the rule's targets that can take traffic
 * (`isAvailable`: the ModelServer exists and has a ready endpoint), so a canary with no ready pod
 * costs its share of requests nothing; upstream picks blindly and answers 503.
 *
 * @module
 */
import type { ModelMatch, ModelRoute, Rule, TargetModel } from "@kthena/shared/api";
import { matchString } from "./string_match.ts";
import { weightedPick } from "./weighted_pick.ts";

/** What routing looks at in a request. */
export interface RouteQuery {
  /** The body's `model`. */
  model: string;
  /** URL path, without the query. */
  path: string;
  /** A request header's value (case-insensitive name), `null` when absent. */
  header(name: string): string | null;
}

/** Where routes are looked up. */
export interface RouteIndex {
  routesForModel(model: string): readonly ModelRoute[];
  routesForLora(adapter: string): readonly ModelRoute[];
}

/** A route and rule matched. */
interface RuleHit {
  route: ModelRoute;
  rule: Rule;
  ruleIndex: number;
  isLora: boolean;
}

/** The outcome of {@linkcode matchRoute}. */
export type RouteResult =
  | (RuleHit & {
    kind: "matched";
    target: TargetModel;
    /** `namespace/name` of the chosen ModelServer (in the route's namespace). */
    serverKey: string;
  })
  | (RuleHit & { kind: "unavailable"; reason: string })
  | { kind: "not_found" };

/** Options of {@linkcode matchRoute}. */
export interface MatchOptions {
  /** Whether a ModelServer (`namespace/name`) can take traffic now. Default: always. */
  isAvailable?: (serverKey: string) => boolean;
  /** Random source in [0, 1) for the weighted choice. */
  random?: () => number;
}

/**
 * Whether a rule's `modelMatch` holds for a request (all given conditions must).
 *
 * @example
 * ```ts
 * import { matchesRule } from "./route_matcher.ts";
 * const q = { model: "m", path: "/v1/completions", header: (n: string) => (n === "user-type" ? "premium" : null) };
 * matchesRule({ headers: { "user-type": { exact: "premium" } } }, q); // true
 * ```
 */
export function matchesRule(match: ModelMatch | undefined, query: RouteQuery): boolean {
  if (!match) return true;
  if (match.body?.model !== undefined && match.body.model !== query.model) return false;
  if (match.headers) {
    for (const name in match.headers) {
      if (!matchString(match.headers[name]!, query.header(name) ?? "")) return false;
    }
  }
  if (match.uri && !matchString(match.uri, query.path)) return false;
  return true;
}

function namespaceOf(route: ModelRoute): string {
  return route.metadata.namespace || "default";
}

/**
 * Finds the ModelServer a request goes to.
 *
 * @example
 * ```ts
 * import { ModelRoute } from "@kthena/shared/api";
 * import { matchRoute } from "./route_matcher.ts";
 * const route = ModelRoute.parse({
 *   apiVersion: "networking.serving.volcano.sh/v1alpha1",
 *   kind: "ModelRoute",
 *   metadata: { name: "r", namespace: "ns" },
 *   spec: { modelName: "m", rules: [{ targetModels: [{ modelServerName: "s" }] }] },
 * });
 * const index = { routesForModel: (m: string) => (m === "m" ? [route] : []), routesForLora: () => [] };
 * const r = matchRoute(index, { model: "m", path: "/v1/completions", header: () => null });
 * r.kind === "matched" && r.serverKey; // "ns/s"
 * ```
 */
export function matchRoute(
  index: RouteIndex,
  query: RouteQuery,
  options: MatchOptions = {},
): RouteResult {
  let candidates = index.routesForModel(query.model);
  let isLora = false;
  if (candidates.length === 0) {
    candidates = index.routesForLora(query.model);
    isLora = true;
  }
  const isAvailable = options.isAvailable ?? (() => true);
  for (const route of candidates) {
    if ((route.spec.parentRefs?.length ?? 0) > 0) continue;
    const ruleIndex = route.spec.rules.findIndex((r) => matchesRule(r.modelMatch, query));
    if (ruleIndex < 0) continue;
    const rule = route.spec.rules[ruleIndex]!;
    const total = rule.targetModels.reduce((sum, t) => sum + Math.max(0, t.weight), 0);
    if (total <= 0) continue;
    const ns = namespaceOf(route);
    const usable = rule.targetModels.filter((t) =>
      t.weight > 0 && t.modelServerName !== undefined &&
      isAvailable(`${ns}/${t.modelServerName}`)
    );
    const target = weightedPick(usable, (t) => t.weight, options.random);
    if (!target) {
      const names = rule.targetModels.map((t) =>
        t.modelServerName !== undefined
          ? `ModelServer ${ns}/${t.modelServerName}`
          : `external provider ${t.externalModelProviderName} (not supported)`
      );
      return {
        kind: "unavailable",
        route,
        rule,
        ruleIndex,
        isLora,
        reason: `no ready pod behind ${names.join(", ")}`,
      };
    }
    return {
      kind: "matched",
      route,
      rule,
      ruleIndex,
      isLora,
      target,
      serverKey: `${ns}/${target.modelServerName}`,
    };
  }
  return { kind: "not_found" };
}
