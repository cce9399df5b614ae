// Expression preview: evaluates the Jinja2 subset used in parameters (`{{ json.name }}`) in the
// browser, against the last run's data, with the server's rules (see engine/expressions.py):
// a string that is one expression gives its native value; text with expressions gives a string;
// a missing key is `undefined` ("" in text, null as a value; an ordering comparison with it, or
// with null, is false). `{% %}` blocks are not previewed. The names an expression may use come
// from the server (GET /api/v1/expressions), the same list its runs render with; `completions`
// offers them, the fields of the data, filters and tests while typing.

export const MISSING: unique symbol = Symbol("missing");
type Value = unknown;

/** What the server says expressions offer (GET /api/v1/expressions). */
export interface ExpressionReference {
  names: { name: string; description: string }[];
  filters: string[];
  tests: string[];
  functions: string[];
}

export interface PreviewContext {
  /** The server's list; when given, exactly these names exist (as in a run). */
  reference?: ExpressionReference;
  /** No run to preview against yet: `json`, `items` and `nodes` are empty. */
  noRunData?: boolean;
  json?: Record<string, unknown>;
  items?: Record<string, unknown>[];
  index?: number;
  nodes?: Record<string, Record<string, unknown>[]>;
  vars?: Record<string, unknown>;
  execution?: Record<string, unknown>;
  workflow?: Record<string, unknown>;
  now?: string;
}

export type Preview = { ok: true; value: unknown; text: string } | { ok: false; error: string };

export class ExpressionSyntaxError extends Error {}
export class ExpressionEvalError extends Error {}

const WHOLE = /^\s*\{\{([\s\S]*?)\}\}\s*$/;

export function hasExpression(value: unknown): value is string {
  return typeof value === "string" && (value.includes("{{") || value.includes("{%"));
}

/** Render a parameter value like the server does; never throws. */
export function previewExpression(source: string, context: PreviewContext): Preview {
  try {
    const value = renderTemplate(source, context);
    return { ok: true, value, text: displayValue(value) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export function renderTemplate(source: string, context: PreviewContext): unknown {
  if (!hasExpression(source)) return source;
  if (source.includes("{%")) throw new ExpressionEvalError("{% %} blocks are not previewed; run the node to see");
  const scope = buildScope(context);
  const whole = WHOLE.exec(source);
  if (whole && !whole[1].includes("}}")) return finalValue(evaluate(whole[1], scope));
  let out = "";
  let rest = source;
  for (;;) {
    const start = rest.indexOf("{{");
    if (start < 0) break;
    const end = rest.indexOf("}}", start + 2);
    if (end < 0) throw new ExpressionSyntaxError("unclosed {{");
    out += rest.slice(0, start) + asText(evaluate(rest.slice(start + 2, end), scope));
    rest = rest.slice(end + 2);
  }
  return out + rest;
}

/** How a preview shows a value: strings as they are, everything else as JSON. */
export function displayValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "null";
  return JSON.stringify(value);
}

function finalValue(value: Value): unknown {
  return value === MISSING || value === undefined ? null : value;
}

function asText(value: Value): string {
  if (value === null || value === undefined || value === MISSING) return "";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A name the server offers that this preview cannot compute: using it says so. */
const NOT_PREVIEWED: unique symbol = Symbol("not previewed");

export function buildScope(context: PreviewContext): Record<string, Value> {
  const items = context.items ?? (context.json ? [context.json] : []);
  const known: Record<string, Value> = {
    json: context.json ?? items[0] ?? {},
    items,
    index: context.index ?? 0,
    nodes: context.nodes ?? {},
    vars: context.vars ?? {},
    execution: context.execution ?? { id: "preview" },
    workflow: context.workflow ?? {},
    now: context.now ?? new Date().toISOString(),
  };
  if (!context.reference) return known;
  // Exactly the server's names: one it lacks is undefined here too, one this preview lacks says so.
  return Object.fromEntries(context.reference.names.map(({ name }) => [name, name in known ? known[name] : NOT_PREVIEWED]));
}

// ---------------------------------------------------------------- tokenizer

type Token =
  | { kind: "num"; value: number }
  | { kind: "str"; value: string }
  | { kind: "name"; value: string }
  | { kind: "op"; value: string }
  | { kind: "end" };

const OPERATORS = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">", "~", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "="];

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(source.slice(i))!;
      tokens.push({ kind: "num", value: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = "";
      while (j < source.length && source[j] !== c) {
        if (source[j] === "\\" && j + 1 < source.length) {
          const next = source[j + 1];
          text += next === "n" ? "\n" : next === "t" ? "\t" : next;
          j += 2;
        } else text += source[j++];
      }
      if (j >= source.length) throw new ExpressionSyntaxError("unterminated string");
      tokens.push({ kind: "str", value: text });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: "name", value: m[0] });
      i += m[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (!op) throw new ExpressionSyntaxError(`unexpected character '${c}'`);
    tokens.push({ kind: "op", value: op });
    i += op.length;
  }
  tokens.push({ kind: "end" });
  return tokens;
}

// ---------------------------------------------------------------- parser + evaluator (one pass)

class Evaluator {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly scope: Record<string, Value>,
  ) {}

  run(): Value {
    const value = this.conditional();
    if (this.peek().kind !== "end") throw new ExpressionSyntaxError(`unexpected '${tokenText(this.peek())}'`);
    return value;
  }

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private isOp(value: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.value === value;
  }

  private isName(value: string): boolean {
    const t = this.peek();
    return t.kind === "name" && t.value === value;
  }

  private expectOp(value: string): void {
    if (!this.isOp(value)) throw new ExpressionSyntaxError(`expected '${value}', got '${tokenText(this.peek())}'`);
    this.pos++;
  }

  private conditional(): Value {
    const value = this.or();
    if (this.isName("if")) {
      this.pos++;
      const condition = this.or();
      let otherwise: Value = MISSING;
      if (this.isName("else")) {
        this.pos++;
        otherwise = this.conditional();
      }
      return truthy(condition) ? value : otherwise;
    }
    return value;
  }

  private or(): Value {
    let left = this.and();
    while (this.isName("or")) {
      this.pos++;
      const right = this.and();
      left = truthy(left) ? left : right;
    }
    return left;
  }

  private and(): Value {
    let left = this.not();
    while (this.isName("and")) {
      this.pos++;
      const right = this.not();
      left = truthy(left) ? right : left;
    }
    return left;
  }

  private not(): Value {
    if (this.isName("not")) {
      this.pos++;
      return !truthy(this.not());
    }
    return this.comparison();
  }

  private comparison(): Value {
    let left = this.concat();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && ["==", "!=", "<", ">", "<=", ">="].includes(t.value)) {
        this.pos++;
        left = compare(t.value, left, this.concat());
      } else if (this.isName("in")) {
        this.pos++;
        left = contains(this.concat(), left);
      } else if (this.isName("not") && this.tokens[this.pos + 1]?.kind === "name" && (this.tokens[this.pos + 1] as { value: string }).value === "in") {
        this.pos += 2;
        left = !contains(this.concat(), left);
      } else if (this.isName("is")) {
        this.pos++;
        let negate = false;
        if (this.isName("not")) {
          negate = true;
          this.pos++;
        }
        const name = this.peek();
        if (name.kind !== "name") throw new ExpressionSyntaxError("expected a test name after 'is'");
        this.pos++;
        const result = runTest(name.value, left);
        left = negate ? !result : result;
      } else return left;
    }
  }

  private concat(): Value {
    let left = this.additive();
    while (this.isOp("~")) {
      this.pos++;
      left = asText(left) + asText(this.additive());
    }
    return left;
  }

  private additive(): Value {
    let left = this.multiplicative();
    for (;;) {
      if (this.isOp("+")) {
        this.pos++;
        const right = this.multiplicative();
        if (typeof left === "string" && typeof right === "string") left = left + right;
        else if (Array.isArray(left) && Array.isArray(right)) left = [...left, ...right];
        else left = num(left, "+") + num(right, "+");
      } else if (this.isOp("-")) {
        this.pos++;
        left = num(left, "-") - num(this.multiplicative(), "-");
      } else return left;
    }
  }

  private multiplicative(): Value {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || !["*", "/", "//", "%"].includes(t.value)) return left;
      this.pos++;
      const right = this.unary();
      if (t.value === "*" && typeof left === "string" && typeof right === "number") {
        left = left.repeat(right);
        continue;
      }
      const a = num(left, t.value);
      const b = num(right, t.value);
      if ((t.value === "/" || t.value === "//" || t.value === "%") && b === 0) {
        throw new ExpressionEvalError("division by zero");
      }
      if (t.value === "*") left = a * b;
      else if (t.value === "/") left = a / b;
      else if (t.value === "//") left = Math.floor(a / b);
      else left = ((a % b) + b) % b;
    }
  }

  private unary(): Value {
    if (this.isOp("-")) {
      this.pos++;
      return -num(this.unary(), "-");
    }
    if (this.isOp("+")) {
      this.pos++;
      return num(this.unary(), "+");
    }
    return this.power();
  }

  private power(): Value {
    const base = this.filtered();
    if (this.isOp("**")) {
      this.pos++;
      return num(base, "**") ** num(this.unary(), "**");
    }
    return base;
  }

  private filtered(): Value {
    let value = this.postfix();
    while (this.isOp("|")) {
      this.pos++;
      const name = this.peek();
      if (name.kind !== "name") throw new ExpressionSyntaxError("expected a filter name after '|'");
      this.pos++;
      const args = this.isOp("(") ? this.callArgs() : [];
      value = applyFilter(name.value, value, args);
    }
    return value;
  }

  private postfix(): Value {
    let value = this.primary();
    for (;;) {
      if (this.isOp(".")) {
        this.pos++;
        const name = this.peek();
        if (name.kind !== "name" && name.kind !== "num") throw new ExpressionSyntaxError("expected a name after '.'");
        this.pos++;
        const key = String(name.value);
        if (this.isOp("(")) value = callMethod(value, key, this.callArgs());
        else value = getAttr(value, key);
      } else if (this.isOp("[")) {
        this.pos++;
        const key = this.conditional();
        this.expectOp("]");
        value = getItem(value, key);
      } else if (this.isOp("(")) {
        throw new ExpressionEvalError("calling functions is not previewed");
      } else return value;
    }
  }

  private callArgs(): Value[] {
    this.expectOp("(");
    const args: Value[] = [];
    while (!this.isOp(")")) {
      // keyword arguments are accepted and passed by position
      if (this.peek().kind === "name" && this.tokens[this.pos + 1]?.kind === "op" && (this.tokens[this.pos + 1] as { value: string }).value === "=") {
        this.pos += 2;
      }
      args.push(this.conditional());
      if (!this.isOp(",")) break;
      this.pos++;
    }
    this.expectOp(")");
    return args;
  }

  private primary(): Value {
    const t = this.peek();
    this.pos++;
    if (t.kind === "num" || t.kind === "str") return t.value;
    if (t.kind === "name") {
      switch (t.value) {
        case "true":
        case "True":
          return true;
        case "false":
        case "False":
          return false;
        case "none":
        case "None":
          return null;
      }
      if (!(t.value in this.scope)) throw new ExpressionEvalError(`'${t.value}' is undefined`);
      if (this.scope[t.value] === NOT_PREVIEWED) throw new ExpressionEvalError(`'${t.value}' is not previewed; run the node to see`);
      return this.scope[t.value];
    }
    if (t.kind === "op" && t.value === "(") {
      const value = this.conditional();
      this.expectOp(")");
      return value;
    }
    if (t.kind === "op" && t.value === "[") {
      const list: Value[] = [];
      while (!this.isOp("]")) {
        list.push(this.conditional());
        if (!this.isOp(",")) break;
        this.pos++;
      }
      this.expectOp("]");
      return list;
    }
    if (t.kind === "op" && t.value === "{") {
      const dict: Record<string, Value> = {};
      while (!this.isOp("}")) {
        const key = this.conditional();
        this.expectOp(":");
        dict[String(key)] = this.conditional();
        if (!this.isOp(",")) break;
        this.pos++;
      }
      this.expectOp("}");
      return dict;
    }
    throw new ExpressionSyntaxError(t.kind === "end" ? "unexpected end of expression" : `unexpected '${tokenText(t)}'`);
  }
}

function tokenText(t: Token): string {
  return t.kind === "end" ? "end" : String(t.value);
}

export function evaluate(source: string, scope: Record<string, Value>): Value {
  return new Evaluator(tokenize(source), scope).run();
}

// ---------------------------------------------------------------- semantics

function truthy(value: Value): boolean {
  if (value === MISSING || value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value as object).length > 0;
  return Boolean(value);
}

function num(value: Value, op: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === MISSING) throw new ExpressionEvalError(`a missing field used with '${op}'`);
  throw new ExpressionEvalError(`'${op}' needs numbers, got ${typeName(value)}`);
}

function typeName(value: Value): string {
  if (value === null || value === MISSING) return "none";
  if (Array.isArray(value)) return "list";
  return typeof value === "object" ? "object" : typeof value;
}

function equal(a: Value, b: Value): boolean {
  const na = a === MISSING ? null : a;
  const nb = b === MISSING ? null : b;
  if (typeof na === "object" && na !== null && typeof nb === "object" && nb !== null) {
    return JSON.stringify(na) === JSON.stringify(nb);
  }
  return na === nb;
}

function compare(op: string, a: Value, b: Value): boolean {
  if (op === "==") return equal(a, b);
  if (op === "!=") return !equal(a, b);
  // As on the server: a missing field or null in an ordering comparison makes it false.
  if (a === MISSING || b === MISSING || a === null || b === null) return false;
  const bothStrings = typeof a === "string" && typeof b === "string";
  const x = bothStrings ? a : num(a, op);
  const y = bothStrings ? b : num(b, op);
  if (op === "<") return x < y;
  if (op === ">") return x > y;
  if (op === "<=") return x <= y;
  return x >= y;
}

function contains(container: Value, needle: Value): boolean {
  if (typeof container === "string") return container.includes(String(needle));
  if (Array.isArray(container)) return container.some((v) => equal(v, needle));
  if (container && typeof container === "object") return Object.prototype.hasOwnProperty.call(container, String(needle));
  throw new ExpressionEvalError(`'in' needs a list, text or object, got ${typeName(container)}`);
}

function getAttr(value: Value, key: string): Value {
  if (value === MISSING || value === null || value === undefined) return MISSING;
  if (Array.isArray(value)) {
    if (key === "first" || key === "json") return value.length ? value[0] : MISSING;
    if (key === "last") return value.length ? value[value.length - 1] : MISSING;
    return MISSING;
  }
  if (typeof value === "object") {
    return Object.prototype.hasOwnProperty.call(value, key) ? (value as Record<string, Value>)[key] : MISSING;
  }
  return MISSING;
}

function getItem(value: Value, key: Value): Value {
  if (Array.isArray(value) && typeof key === "number") {
    const i = key < 0 ? value.length + key : key;
    return i >= 0 && i < value.length ? value[i] : MISSING;
  }
  if (typeof value === "string" && typeof key === "number") return value.at(key) ?? MISSING;
  return getAttr(value, String(key));
}

function runTest(name: string, value: Value): boolean {
  switch (name) {
    case "defined":
      return value !== MISSING;
    case "undefined":
      return value === MISSING;
    case "none":
      return value === null;
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "mapping":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "sequence":
    case "iterable":
      return Array.isArray(value) || typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "true":
      return value === true;
    case "false":
      return value === false;
    case "even":
      return num(value, "is even") % 2 === 0;
    case "odd":
      return Math.abs(num(value, "is odd") % 2) === 1;
    default:
      throw new ExpressionEvalError(`the test '${name}' is not previewed`);
  }
}

function length(value: Value): number {
  if (typeof value === "string" || Array.isArray(value)) return value.length;
  if (value && typeof value === "object") return Object.keys(value).length;
  throw new ExpressionEvalError(`${typeName(value)} has no length`);
}

function pythonRound(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function applyFilter(name: string, value: Value, args: Value[]): Value {
  const v = value === MISSING && !["default", "d"].includes(name) ? null : value;
  switch (name) {
    case "default":
    case "d":
      return value === MISSING || (args[1] === true && !truthy(value)) ? (args[0] ?? "") : value;
    case "upper":
      return asText(v).toUpperCase();
    case "lower":
      return asText(v).toLowerCase();
    case "capitalize": {
      const s = asText(v);
      return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
    }
    case "title":
      return asText(v).replace(/\w\S*/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
    case "trim":
      return asText(v).trim();
    case "length":
    case "count":
      return length(v);
    case "string":
      return asText(v);
    case "int": {
      const n = typeof v === "string" ? parseInt(v, 10) : Number(v);
      return Number.isFinite(n) ? Math.trunc(n) : (args[0] ?? 0);
    }
    case "float": {
      const n = Number(v);
      return Number.isFinite(n) ? n : (args[0] ?? 0);
    }
    case "abs":
      return Math.abs(num(v, "abs"));
    case "round": {
      const digits = typeof args[0] === "number" ? args[0] : 0;
      const method = args[1] ?? "common";
      const n = num(v, "round");
      const f = 10 ** digits;
      if (method === "floor") return Math.floor(n * f) / f;
      if (method === "ceil") return Math.ceil(n * f) / f;
      return pythonRound(n, digits);
    }
    case "join":
      if (!Array.isArray(v)) throw new ExpressionEvalError("join needs a list");
      return v.map(asText).join(args[0] === undefined ? "" : asText(args[0]));
    case "first":
      return Array.isArray(v) || typeof v === "string" ? (v.length ? v[0] : MISSING) : MISSING;
    case "last":
      return Array.isArray(v) || typeof v === "string" ? (v.length ? v[v.length - 1] : MISSING) : MISSING;
    case "reverse":
      return Array.isArray(v) ? [...v].reverse() : asText(v).split("").reverse().join("");
    case "sort":
      if (!Array.isArray(v)) throw new ExpressionEvalError("sort needs a list");
      return [...v].sort((a, b) => (compare("<", a, b) ? -1 : compare(">", a, b) ? 1 : 0));
    case "unique":
      if (!Array.isArray(v)) throw new ExpressionEvalError("unique needs a list");
      return v.filter((x, i) => v.findIndex((y) => equal(x, y)) === i);
    case "sum":
      if (!Array.isArray(v)) throw new ExpressionEvalError("sum needs a list");
      return v.reduce((acc: number, x) => acc + num(x, "sum"), 0);
    case "min":
    case "max": {
      if (!Array.isArray(v) || v.length === 0) return MISSING;
      const nums = v.map((x) => num(x, name));
      return name === "min" ? Math.min(...nums) : Math.max(...nums);
    }
    case "list":
      return Array.isArray(v) ? v : typeof v === "string" ? v.split("") : Object.keys(v ?? {});
    case "replace":
      return asText(v).split(asText(args[0])).join(asText(args[1]));
    case "to_json":
      return JSON.stringify(v);
    case "tojson":
      return JSON.stringify(v);
    case "from_json":
      try {
        return JSON.parse(asText(v));
      } catch {
        throw new ExpressionEvalError("from_json: not valid JSON");
      }
    case "truncate": {
      const s = asText(v);
      const n = typeof args[0] === "number" ? args[0] : 255;
      return s.length <= n ? s : s.slice(0, Math.max(0, n - 3)) + "...";
    }
    default:
      throw new ExpressionEvalError(`the filter '${name}' is not previewed; run the node to see`);
  }
}

function callMethod(target: Value, name: string, args: Value[]): Value {
  if (typeof target === "string") {
    switch (name) {
      case "upper":
        return target.toUpperCase();
      case "lower":
        return target.toLowerCase();
      case "strip":
        return target.trim();
      case "startswith":
        return target.startsWith(asText(args[0]));
      case "endswith":
        return target.endsWith(asText(args[0]));
      case "split":
        return args.length ? target.split(asText(args[0])) : target.trim().split(/\s+/);
      case "replace":
        return target.split(asText(args[0])).join(asText(args[1]));
    }
  }
  if (target && typeof target === "object" && !Array.isArray(target)) {
    const obj = target as Record<string, Value>;
    switch (name) {
      case "get":
        return Object.prototype.hasOwnProperty.call(obj, asText(args[0])) ? obj[asText(args[0])] : (args[1] ?? null);
      case "keys":
        return Object.keys(obj);
      case "values":
        return Object.values(obj);
      case "items":
        return Object.entries(obj);
    }
  }
  throw new ExpressionEvalError(`the method '${name}' is not previewed`);
}

// ---------------------------------------------------------------- autocomplete

export interface Completion {
  /** What the list shows. */
  label: string;
  /** What replaces the word being typed (`replace` characters before the caret). */
  insert: string;
  replace: number;
  detail?: string;
}

const MAX_COMPLETIONS = 12;

/** Whether the caret (at the end of `before`) is inside an unclosed `{{`. */
export function insideExpression(before: string): boolean {
  return before.lastIndexOf("{{") > before.lastIndexOf("}}");
}

/**
 * What may come next at the caret, `before` being the text up to it: the server's names and
 * functions, the fields of the value before a dot (`json.`, `vars.`, `nodes["Name"].first.`),
 * node names inside `nodes["`, filters after `|`, tests after `is`.
 */
export function completions(before: string, context: PreviewContext | null): Completion[] {
  if (!insideExpression(before)) return [];
  const inner = before.slice(before.lastIndexOf("{{") + 2);
  const reference = context?.reference;
  const scope = context ? buildScope(context) : {};
  const pick = (words: { label: string; insert?: string; detail?: string }[], typed: string): Completion[] =>
    words
      .filter((w) => w.label.toLowerCase().startsWith(typed.toLowerCase()) && w.label !== typed)
      .slice(0, MAX_COMPLETIONS)
      .map((w) => ({ label: w.label, insert: w.insert ?? w.label, replace: typed.length, detail: w.detail }));

  let m = /nodes\[\s*(["'])([^"']*)$/.exec(inner);
  if (m) {
    const names = Object.keys((scope.nodes ?? {}) as Record<string, unknown>);
    return pick(names.map((n) => ({ label: n, insert: `${n}${m![1]}]` })), m[2]);
  }
  m = /\|\s*([A-Za-z_]\w*)?$/.exec(inner);
  if (m) return pick((reference?.filters ?? []).map((f) => ({ label: f, detail: "filter" })), m[1] ?? "");
  m = /\bis\s+(?:not\s+)?([A-Za-z_]\w*)?$/.exec(inner);
  if (m) return pick((reference?.tests ?? []).map((t) => ({ label: t, detail: "test" })), m[1] ?? "");
  m = /((?:[A-Za-z_]\w*)(?:\.[A-Za-z_]\w*|\[\s*(?:"[^"]*"|'[^']*'|\d+)\s*\])*)\.([A-Za-z_]\w*)?$/.exec(inner);
  if (m) {
    let value: Value;
    try {
      value = evaluate(m[1], scope);
    } catch {
      return [];
    }
    return pick(fieldsOf(value).map((f) => ({ label: f.label, detail: f.detail })), m[2] ?? "");
  }
  m = /(?:^|[\s(\[,+\-*/%<>=!~])([A-Za-z_]\w*)?$/.exec(inner);
  if (!m) return [];
  const words = [
    ...(reference?.names ?? Object.keys(scope).map((name) => ({ name, description: "" }))).map((n) => ({ label: n.name, detail: n.description })),
    ...(reference?.functions ?? []).map((f) => ({ label: f, insert: `${f}(`, detail: "function" })),
  ];
  return pick(words, m[1] ?? "");
}

/** The names after a dot that mean something for `value`: an object's keys, a list's helpers. */
function fieldsOf(value: Value): { label: string; detail?: string }[] {
  if (Array.isArray(value)) {
    return [
      { label: "first", detail: "the first item" },
      { label: "last", detail: "the last item" },
      { label: "json", detail: "the first item" },
      { label: "outputs", detail: "every output by name" },
    ];
  }
  if (value && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => ({ label: k, detail: typeName(v === undefined ? null : v) }));
  }
  return [];
}
