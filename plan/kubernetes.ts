import { z } from 'zod';
import { kubernetesResources } from './targets';
import { kubernetesContext, kubernetesName, labelSelector, selectorText } from './safeValues';

/**
 * Kubernetes objects as `kubectl get` selects them: a context of the worker's configuration, a namespace (not
 * for nodes), a label and a field selector, and the kind of object. Target groups and checks use it alike.
 */
export const kubernetesSelection = z
  .strictObject({
    context: kubernetesContext.describe("a context of the worker's configuration (kubernetes.contexts)"),
    namespace: kubernetesName.optional().describe('the namespace (not for nodes)'),
    selector: z
      .strictObject({
        labels: labelSelector
          .optional()
          .describe('as kubectl get -l: "app=kafka,tier in (broker)", or labels as a map'),
        fields: selectorText.optional().describe('as kubectl --field-selector: "status.phase=Running"'),
      })
      .default({}),
    kind: z.enum(kubernetesResources).default('pod').describe('pod, node, deployment or statefulset'),
  })
  .superRefine((selection, ctx) => {
    if (selection.kind === 'node' && selection.namespace !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['namespace'], message: 'nodes have no namespace: leave it out' });
    }
    if (selection.kind !== 'node' && selection.namespace === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespace'],
        message: `${selection.kind}s are selected in a namespace: give one`,
      });
    }
  });
export type KubernetesSelection = z.output<typeof kubernetesSelection>;

/** A label selector as the API takes it: a map becomes "k=v,k2=v2". */
export function labelSelectorText(labels: KubernetesSelection['selector']['labels']): string | undefined {
  if (labels === undefined || typeof labels === 'string') return labels || undefined;
  const pairs = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  return pairs.length === 0 ? undefined : pairs.join(',');
}

/** "kafka/{app=broker}": the objects a selection stands for until the worker lists them (dry runs). */
export function selectionPlaceholder(selection: KubernetesSelection): string {
  const labels = labelSelectorText(selection.selector.labels);
  const fields = selection.selector.fields;
  const which = `{${[labels, fields].filter(Boolean).join(', ') || 'all'}}`;
  return selection.namespace === undefined ? which : `${selection.namespace}/${which}`;
}

/** "pods app=kafka in kafka (context prod)", for dry runs and messages. */
export function describeSelection(selection: KubernetesSelection): string {
  const labels = labelSelectorText(selection.selector.labels);
  const fields = selection.selector.fields;
  const which = [labels, fields].filter(Boolean).join(', ') || 'all';
  const where = selection.namespace === undefined ? '' : ` in ${selection.namespace}`;
  return `${selection.kind}s ${which}${where} (context ${selection.context})`;
}
