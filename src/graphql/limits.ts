/**
 * Bounds on how much one GraphQL request can ask for: body size, nesting depth, and a cost that
 * multiplies each list field by its page size.
 */
import { GraphQLError, Kind, type ASTVisitor, type FieldNode, type SelectionSetNode, type ValidationContext } from 'graphql';

/** Largest JSON body of a GraphQL request without files (express.json's `limit`). */
export const MAX_JSON_BODY = '1mb';

/** Deepest selection nesting accepted. */
export const MAX_QUERY_DEPTH = 10;
/** Largest estimated number of objects one operation may resolve. */
export const MAX_QUERY_COST = 20_000;

/** Rejects operations nested deeper than `max`. */
export function depthLimit(max = MAX_QUERY_DEPTH) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const depth = measure(operation.selectionSet, context, 0, () => 1).depth;
      if (depth > max) {
        context.reportError(
          new GraphQLError(`the query is nested ${depth} levels deep; the limit is ${max}`, {
            nodes: [operation],
            extensions: { code: 'BAD_USER_INPUT' },
          }),
        );
      }
    },
  });
}

/** Rejects operations whose estimated cost (fields × page sizes) passes `max`. */
export function costLimit(max = MAX_QUERY_COST) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const cost = measure(operation.selectionSet, context, 0, pageSizeOf).cost;
      if (cost > max) {
        context.reportError(
          new GraphQLError(`the query would cost about ${cost} objects; the limit is ${max}: ask for smaller pages`, {
            nodes: [operation],
            extensions: { code: 'BAD_USER_INPUT' },
          }),
        );
      }
    },
  });
}

/** List fields and the number of items to assume when no literal `first` says otherwise. */
const LIST_FIELD_SIZES: Record<string, number> = { images: 50, segments: 50, edges: 1, extractions: 4, labels: 80 };

/** How many items a field stands for: its literal `first`, or a pessimistic guess. */
function pageSizeOf(field: FieldNode): number {
  const first = field.arguments?.find((arg) => arg.name.value === 'first');
  if (first?.value.kind === Kind.INT) return Math.max(1, Number(first.value.value));
  if (first) return 100;
  return LIST_FIELD_SIZES[field.name.value] ?? 1;
}

function measure(
  selectionSet: SelectionSetNode,
  context: ValidationContext,
  depth: number,
  multiplier: (field: FieldNode) => number,
  seen = new Set<string>(),
): { depth: number; cost: number } {
  let deepest = depth;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const factor = multiplier(selection);
      const child = selection.selectionSet
        ? measure(selection.selectionSet, context, depth + 1, multiplier, seen)
        : { depth: depth + 1, cost: 0 };
      deepest = Math.max(deepest, child.depth);
      cost += factor * (1 + child.cost);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const child = measure(selection.selectionSet, context, depth, multiplier, seen);
      deepest = Math.max(deepest, child.depth);
      cost += child.cost;
    } else {
      const name = selection.name.value;
      const fragment = context.getFragment(name);
      if (!fragment || seen.has(name)) continue;
      const child = measure(fragment.selectionSet, context, depth, multiplier, new Set([...seen, name]));
      deepest = Math.max(deepest, child.depth);
      cost += child.cost;
    }
  }
  return { depth: deepest, cost };
}
