// Shared by the plan and schedule tests: every value a file may hold is bounded in its JSON Schema.

/**
 * Where a JSON Schema lets a value through without a bound: a string without maxLength (or enum/const), a list
 * without maxItems, a map without maxProperties (or additionalProperties: false), a schema without a type.
 * `constraint`: the schema is one of an allOf, adding a constraint (a pattern, say) to a value typed above.
 */
export function unboundedIn(schema: unknown, at = '', constraint = false): string[] {
  if (typeof schema !== 'object' || schema === null)
    return schema === true ? [`${at}: accepts anything`] : [];
  const node = schema as Record<string, unknown>;
  const types = [node.type].flat();
  const fixed = node.enum !== undefined || node.const !== undefined;
  const combined = ['anyOf', 'oneOf', 'allOf', '$ref'].some((keyword) => node[keyword] !== undefined);
  const found: string[] = [];
  if (types.includes('string') && !fixed && node.maxLength === undefined)
    found.push(`${at}: string without maxLength`);
  if (types.includes('array') && node.maxItems === undefined) found.push(`${at}: list without maxItems`);
  if (types.includes('object') && node.additionalProperties !== false && node.maxProperties === undefined) {
    found.push(`${at}: map without maxProperties`);
  }
  if (node.type === undefined && !fixed && !combined && !constraint) found.push(`${at}: no type`);
  const walk = (path: string, child: unknown, isConstraint = false) =>
    found.push(...unboundedIn(child, `${at}/${path}`, isConstraint));
  for (const keyword of ['properties', '$defs']) {
    for (const [name, child] of Object.entries((node[keyword] ?? {}) as Record<string, unknown>))
      walk(name, child);
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) {
    ((node[keyword] ?? []) as unknown[]).forEach((child, i) =>
      walk(`${keyword}[${i}]`, child, keyword === 'allOf'),
    );
  }
  for (const keyword of ['items', 'additionalProperties', 'propertyNames', 'not']) {
    if (typeof node[keyword] === 'object') walk(keyword, node[keyword]);
  }
  return found;
}
