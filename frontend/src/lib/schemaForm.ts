// The parameter-form generator: turns a node type's parameter JSON schema into a list of field
// descriptions the editor renders (pure, so it is unit-tested without a browser).
import type { JsonSchema } from "../api/types";

export type FieldKind =
  | "text" // one line; may hold an expression
  | "code" // multi-line source (x-code-language)
  | "select" // enum
  | "boolean"
  | "condition" // a boolean written as an expression (x-condition)
  | "number"
  | "integer"
  | "datetime"
  | "keyvalue" // object with free keys: name → value or expression
  | "list" // array of objects, each a sub-form
  | "stringlist" // array of strings
  | "json"; // anything else: edited as JSON

export interface FieldSpec {
  key: string;
  label: string;
  description?: string;
  kind: FieldKind;
  required: boolean;
  nullable: boolean;
  default?: unknown;
  options?: string[];
  /** The value may be an `{{ expression }}` (x-expressions on the schema, not x-static). */
  expressions: boolean;
  language?: string;
  minimum?: number;
  maximum?: number;
  placeholder?: string;
  /** For "list": the fields of each entry. */
  itemFields?: FieldSpec[];
}

const ACRONYMS: Record<string, string> = { url: "URL", id: "ID", json: "JSON", csv: "CSV", xml: "XML", http: "HTTP", ms: "(ms)" };

/** `timeout_s` → "Timeout (s)", `max_response_bytes` → "Max response bytes". */
export function labelFor(key: string): string {
  const words = key.split("_").filter(Boolean);
  const unit = words.length > 1 ? words[words.length - 1] : "";
  const units: Record<string, string> = { s: "(s)", mb: "(MB)", ms: "(ms)" };
  if (units[unit]) words[words.length - 1] = units[unit];
  const text = words.map((w) => ACRONYMS[w] ?? w).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function resolveRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace(/^#\/\$defs\//, "");
  return root.$defs?.[name] ?? {};
}

/** Unwrap `anyOf: [X, {type: null}]` into X (nullable). */
function unwrapNullable(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    const others = variants.filter((v) => v.type !== "null");
    const nullable = others.length < variants.length;
    if (others.length === 1) {
      const inner = resolveRef(others[0], root);
      return { schema: { ...inner, title: schema.title ?? inner.title, description: schema.description ?? inner.description, default: schema.default ?? inner.default }, nullable };
    }
    return { schema: { ...schema, anyOf: others }, nullable };
  }
  const type = schema.type;
  if (Array.isArray(type)) {
    const others = type.filter((t) => t !== "null");
    return { schema: { ...schema, type: others.length === 1 ? others[0] : others }, nullable: others.length < type.length };
  }
  return { schema: resolveRef(schema, root), nullable: false };
}

function kindOf(schema: JsonSchema, root: JsonSchema): { kind: FieldKind; itemFields?: FieldSpec[] } {
  if (schema.enum) return { kind: "select" };
  if (schema.anyOf) {
    // several types (e.g. string | number): a text field that may hold an expression
    const allScalar = schema.anyOf.every((v) => ["string", "number", "integer", "boolean"].includes(String(v.type)));
    return { kind: allScalar ? "text" : "json" };
  }
  switch (schema.type) {
    case "string":
      if (schema["x-code-language"]) return { kind: "code" };
      if (schema.format === "date-time") return { kind: "datetime" };
      return { kind: "text" };
    case "boolean":
      return { kind: schema["x-condition"] ? "condition" : "boolean" };
    case "number":
      return { kind: "number" };
    case "integer":
      return { kind: "integer" };
    case "object":
      if (!schema.properties && schema.additionalProperties !== false) return { kind: "keyvalue" };
      return { kind: "json" };
    case "array": {
      const items = schema.items ? resolveRef(schema.items, root) : undefined;
      if (items?.type === "object" && items.properties) return { kind: "list", itemFields: describeSchema(items, root) };
      if (items?.type === "string" && !items.enum) return { kind: "stringlist" };
      return { kind: "json" };
    }
    default:
      return { kind: "json" };
  }
}

/** The fields of an object schema, in the schema's order. */
export function describeSchema(schema: JsonSchema, root: JsonSchema = schema): FieldSpec[] {
  const expressions = Boolean(root["x-expressions"]);
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, raw]) => {
    const { schema: field, nullable } = unwrapNullable(raw, root);
    const { kind, itemFields } = kindOf(field, root);
    const isStatic = Boolean(raw["x-static"] || field["x-static"] || raw.anyOf?.some((v) => v["x-static"]));
    const spec: FieldSpec = {
      key,
      label: labelFor(key),
      description: raw.description ?? field.description,
      kind,
      required: required.has(key),
      nullable,
      expressions: expressions && !isStatic && kind !== "code" && kind !== "list",
    };
    const fallback = raw.default !== undefined ? raw.default : field.default;
    if (fallback !== undefined) spec.default = fallback;
    if (field.enum) spec.options = field.enum.map(String);
    if (field["x-code-language"]) spec.language = field["x-code-language"];
    if (field.minimum !== undefined) spec.minimum = field.minimum;
    if (field.maximum !== undefined) spec.maximum = field.maximum;
    if (field.examples?.length && typeof field.examples[0] === "string" && kind !== "code") spec.placeholder = field.examples[0];
    if (kind === "condition") spec.placeholder = "{{ json.total > 100 }}";
    if (itemFields) spec.itemFields = itemFields;
    return spec;
  });
}

/** Parameters a new node starts with: required fields that have an obvious empty value. */
export function initialParameters(schema: JsonSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of describeSchema(schema)) {
    if (!field.required) continue;
    if (field.default !== undefined) out[field.key] = field.default;
    else if (field.kind === "keyvalue") out[field.key] = {};
    else if (field.kind === "list") out[field.key] = [];
  }
  return out;
}

/** Turn what the user typed into the value to store for a field (numbers stay expressions if they look like one). */
export function coerceInput(field: FieldSpec, text: string): unknown {
  if (text.includes("{{")) return text;
  if (text === "" && (field.nullable || !field.required)) return undefined;
  if (field.kind === "number" || field.kind === "integer") {
    const n = Number(text);
    if (text.trim() !== "" && Number.isFinite(n)) return field.kind === "integer" ? Math.trunc(n) : n;
    return text;
  }
  return text;
}

/** Drop keys whose value is undefined, so the saved definition holds only what was set. */
export function setParameter(parameters: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const next = { ...parameters };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}
