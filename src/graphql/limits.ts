/**
 * Bounds on how much one GraphQL request can ask for: body size, tokens, nesting depth, root
 * fields, aliases, and a cost that multiplies each list field by its page size and charges
 * mutations for the work they start.
 *
 * The walk is linear in the document: each fragment is measured once and its summary reused at
 * every spread, so `fragment F0 { ...F1 ...F1 }` chains cost no more than their text. Introspection
 * (`__schema`, `__type`, `__typename`) is free and not nested: clients such as Apollo Sandbox send
 * a 15-level introspection query, and it reads the schema, not the catalogue.
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';

/** Largest JSON body of a GraphQL request without files (express.json's `limit`). */
export const MAX_JSON_BODY = '1mb';
/** Largest `operations` or `map` field of a multipart request. */
export const MAX_MULTIPART_FIELD_BYTES = 1024 * 1024;
/** Most lexical tokens in one document; graphql-js stops parsing past it. */
export const MAX_QUERY_TOKENS = 10_000;
/** Deepest selection nesting accepted. */
export const MAX_QUERY_DEPTH = 10;
/** Largest estimated cost of one operation (about one unit per object resolved). */
export const MAX_QUERY_COST = 20_000;
/** Most fields at the top of one operation (each is a database query or a piece of work). */
export const MAX_ROOT_FIELDS = 20;
/** Most aliased fields in one document. */
export const MAX_ALIASES = 50;

/** What a top-level query field costs on its own: at least one database round trip. */
const ROOT_QUERY_COST = 10;
/** What a mutation costs on its own: mutations that decode images or queue work cost far more than reads. */
const MUTATION_COSTS: Record<string, number> = {
  uploadImage: 1_000,
  uploadImages: 5_000,
  extractSegment: 500,
  extractSegments: 2_000,
  resegmentImages: 5_000,
  deleteImage: 200,
  // Reads every mask of the catalogue (or of a filter's images): the heaviest mutation there is.
  exportCoco: 10_000,
};
const DEFAULT_MUTATION_COST = 200;

/** List fields and the number of items to assume when no literal `first` says otherwise. */
const LIST_FIELD_SIZES: Record<string, number> = {
  images: 50,
  segments: 50,
  edges: 1,
  extractions: 4,
  labels: 80,
  // COCO's 12 supercategories, and at most 10 classes in one.
  categories: 12,
  classes: 10,
};

/** Which bounds apply (defaults above). */
export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
  maxRootFields: number;
  maxAliases: number;
}

const DEFAULT_LIMITS: QueryLimits = {
  maxDepth: MAX_QUERY_DEPTH,
  maxCost: MAX_QUERY_COST,
  maxRootFields: MAX_ROOT_FIELDS,
  maxAliases: MAX_ALIASES,
};

/** A selection set measured: how deep it nests, what it costs, and how many fields sit at its top. */
interface Measure {
  depth: number;
  cost: number;
  fields: number;
}

/** Validation rule enforcing every bound in `QueryLimits` on each operation of a document. */
export function queryLimits(overrides: Partial<QueryLimits> = {}) {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  return (context: ValidationContext): ASTVisitor => {
    const walk = new Walk(context);
    let aliases = 0;
    const refuse = (message: string, node: OperationDefinitionNode | undefined) =>
      context.reportError(new GraphQLError(message, { nodes: node ? [node] : undefined, extensions: { code: 'BAD_USER_INPUT' } }));
    return {
      Field(field) {
        if (field.alias) aliases += 1;
      },
      OperationDefinition(operation) {
        const measured = walk.selectionSet(operation.selectionSet, operation.operation === 'mutation' ? 'mutation' : 'query');
        if (measured.depth > limits.maxDepth) {
          refuse(`the query is nested ${measured.depth} levels deep; the limit is ${limits.maxDepth}`, operation);
        }
        if (measured.fields > limits.maxRootFields) {
          refuse(`the operation asks for ${measured.fields} top-level fields; the limit is ${limits.maxRootFields}: send several requests`, operation);
        }
        if (measured.cost > limits.maxCost) {
          refuse(`the query would cost about ${formatCost(measured.cost)} objects; the limit is ${limits.maxCost}: ask for smaller pages or fewer fields`, operation);
        }
      },
      Document: {
        leave() {
          if (aliases > limits.maxAliases) {
            refuse(`the document uses ${aliases} aliases; the limit is ${limits.maxAliases}`, undefined);
          }
        },
      },
    };
  };
}

/** Which kind of operation's top level a selection set sits at, if any. */
type Root = 'query' | 'mutation' | undefined;

/** The extra cost of a top-level field, beyond what it resolves. */
function rootCostOf(field: FieldNode, root: Root): number {
  if (root === 'mutation') return MUTATION_COSTS[field.name.value] ?? DEFAULT_MUTATION_COST;
  return root === 'query' && !isIntrospection(field) ? ROOT_QUERY_COST : 0;
}

/** Walks the operations of one document, measuring each fragment once per place it can sit. */
class Walk {
  private readonly summaries = new Map<string, Measure>();
  private readonly inProgress = new Set<string>();

  constructor(private readonly context: ValidationContext) {}

  /** Measures a selection set; `root` is set only at the top of an operation. */
  selectionSet(selectionSet: SelectionSetNode, root: Root = undefined): Measure {
    let depth = 0;
    let cost = 0;
    let fields = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        fields += 1;
        if (isIntrospection(selection)) continue;
        const child = selection.selectionSet ? this.selectionSet(selection.selectionSet) : NOTHING;
        depth = Math.max(depth, child.depth + 1);
        cost += pageSizeOf(selection) * (1 + child.cost) + rootCostOf(selection, root);
        continue;
      }
      const child =
        selection.kind === Kind.INLINE_FRAGMENT ? this.selectionSet(selection.selectionSet, root) : this.fragment(selection.name.value, root);
      depth = Math.max(depth, child.depth);
      cost += child.cost;
      fields += child.fields;
    }
    return { depth, cost, fields };
  }

  /** A named fragment's measure, computed once for each place (top level or nested) it is spread. */
  private fragment(name: string, root: Root): Measure {
    const key = `${root ?? 'nested'}:${name}`;
    const known = this.summaries.get(key);
    if (known) return known;
    const definition = this.context.getFragment(name);
    // Unknown fragments and cycles are reported by graphql-js's own rules.
    if (!definition || this.inProgress.has(key)) return NOTHING;
    this.inProgress.add(key);
    const measured = this.selectionSet(definition.selectionSet, root);
    this.inProgress.delete(key);
    this.summaries.set(key, measured);
    return measured;
  }
}

const NOTHING: Measure = { depth: 0, cost: 0, fields: 0 };

/** `__schema`, `__type` and `__typename` read the schema, not the catalogue. */
function isIntrospection(field: FieldNode): boolean {
  return field.name.value.startsWith('__');
}

/** How many items a field stands for: its literal `first`, or a pessimistic guess. */
function pageSizeOf(field: FieldNode): number {
  const first = field.arguments?.find((arg) => arg.name.value === 'first');
  if (first?.value.kind === Kind.INT) return Math.max(1, Number(first.value.value));
  if (first) return 100;
  return LIST_FIELD_SIZES[field.name.value] ?? 1;
}

/** Costs can pass Number.MAX_SAFE_INTEGER with nested fragments; say so plainly. */
function formatCost(cost: number): string {
  return cost > Number.MAX_SAFE_INTEGER ? 'more than 9007199254740991' : String(Math.round(cost));
}
