/**
 * The ModelServing checks of upstream's validating webhook that the CRD cannot make.
 *
 * Everything else upstream's webhook checked (kthena-controllers.md §6.2) is a schema rule or a
 * CEL rule of the CRD now, and zod runs the same rules here, so an API server with an old CRD
 * is still covered. What remains is what CEL cannot afford inside an embedded PodSpec (its
 * lists and strings are unbounded, so the API server's cost budget refuses the rule): container
 * images must not contain whitespace. Beyond upstream, `spec.plugins` must name built-in
 * plugins with a config they accept (upstream finds out only when it creates pods).
 *
 * @module
 */
import type { V1Container } from "@kubernetes/client-node";
import { formatIssues, ModelServing, type PodTemplateSpec } from "@kthena/shared/api";
import { pluginProblems } from "../model_serving/plugins.ts";

/**
 * All problems of a ModelServing as `field: message` lines; empty when it is valid.
 *
 * @example
 * ```ts
 * import { validateModelServing } from "./validate_model_serving.ts";
 * validateModelServing({}); // ["apiVersion: …", …]
 * ```
 */
export function validateModelServing(object: unknown): string[] {
  const parsed = ModelServing.safeParse(object);
  if (!parsed.success) return formatIssues(parsed.error);
  const problems: string[] = pluginProblems(parsed.data.spec.plugins);
  parsed.data.spec.template.roles.forEach((role, i) => {
    const base = `spec.template.roles[${i}]`;
    problems.push(...imageProblems(role.entryTemplate, `${base}.entryTemplate`));
    if (role.workerTemplate) {
      problems.push(...imageProblems(role.workerTemplate, `${base}.workerTemplate`));
    }
  });
  return problems;
}

function imageProblems(template: PodTemplateSpec, path: string): string[] {
  const out: string[] = [];
  const check = (list: V1Container[] | undefined, field: string) =>
    (list ?? []).forEach((c, j) => {
      if (c.image === undefined || c.image === "") return;
      if (c.image.trim() === "") {
        out.push(`${path}.spec.${field}[${j}].image: Invalid value: must not be only whitespace`);
      } else if (/\s/.test(c.image)) {
        out.push(
          `${path}.spec.${field}[${j}].image: Invalid value: ${JSON.stringify(c.image)}: ` +
            "must not contain whitespace",
        );
      }
    });
  check(template.spec.containers, "containers");
  check(template.spec.initContainers, "initContainers");
  return out;
}
