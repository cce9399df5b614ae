// Shapes of the Wirework REST API (/api/v1), as the UI uses them.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Item = Record<string, unknown>;
export type NodeOutputs = Record<string, Item[]>;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface User {
  id: string;
  username: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  role: string;
}

export type OrgRole = "owner" | "admin" | "member" | "viewer";

export interface Organization {
  id: string;
  name: string;
  slug: string;
  role?: OrgRole;
}

export interface Member {
  user_id: string;
  username: string;
  email: string;
  role: OrgRole;
  joined_at: string;
}

export interface Invitation {
  id: string;
  org_id: string;
  email: string;
  role: OrgRole;
  expires_at: string;
  used_at: string | null;
  created_at: string;
}

/** A new invitation: the token and the link to send are shown only now. */
/** What an invitation's link offers, read before logging in (POST /invitations/preview). */
export interface InvitationPreview {
  organization_name: string;
  email: string;
  role: OrgRole;
  expires_at: string;
}

export interface InvitationCreated extends Invitation {
  token: string;
  accept_url: string;
}

export interface Me {
  user: User;
  organization: Organization | null;
  organizations: Organization[];
  auth: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix?: string;
  scopes: string[];
  expires_at: string | null;
  last_used_at?: string | null;
  created_at: string;
}

export type ExecutionStatus = "pending" | "running" | "waiting" | "completed" | "failed" | "cancelled";

export interface LastRun {
  id: string;
  status: ExecutionStatus;
  created_at: string;
}

export interface NodeSpec {
  id: string;
  name: string;
  type: string;
  version?: number;
  parameters?: Record<string, unknown>;
  credentials?: Record<string, string>;
  position?: [number, number];
  retry?: { max_attempts: number; backoff_s: number };
  on_error?: "stop" | "continue" | "error_output";
  at_most_once?: boolean;
  disabled?: boolean;
  timeout_s?: number | null;
  notes?: string;
}

export interface EdgeSpec {
  from: string;
  output?: string;
  to: string;
  input?: string;
}

/** A note on the canvas, saved with the workflow and never run. */
export interface StickySpec {
  id: string;
  text: string;
  position: [number, number];
  width: number;
  height: number;
  color: "yellow" | "blue" | "green" | "pink" | "grey";
}

export interface Definition {
  nodes: NodeSpec[];
  edges: EdgeSpec[];
  sticky_notes?: StickySpec[];
  settings?: {
    timezone?: string; timeout_s?: number; error_workflow_id?: string | null; max_concurrency?: number | null;
    retention?: { successful_days?: number | null; failed_days?: number | null; keep_successful?: boolean | null };
  };
  /** Node id → the outputs it gives instead of running, in the editor's runs only. */
  pinned?: Record<string, NodeOutputs>;
}

export interface Workflow {
  id: string;
  name: string;
  description: string | null;
  tags: string[];
  is_active: boolean;
  version: number;
  created_at: string;
  updated_at: string;
  last_run: LastRun | null;
}

export interface WorkflowDetail extends Workflow {
  definition: Definition | null;
}

export interface Version {
  id: string;
  version: number;
  notes: string | null;
  created_by: string | null;
  created_at: string;
}

export interface VersionDetail extends Version {
  definition: Definition;
}

export interface Execution {
  id: string;
  workflow_id: string;
  version_id: string;
  status: ExecutionStatus;
  trigger_type: string;
  triggered_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  error_node: string | null;
  resume_at: string | null;
  retry_of: string | null;
  /** Ran the editor's unsaved draft (a manual run from the editor, or a test call). */
  is_draft?: boolean;
}

export interface NodeRun {
  id: string;
  execution_id?: string;
  node_id: string;
  node_name: string;
  attempt: number;
  status: string;
  started_at: string;
  finished_at: string | null;
  input_data: NodeOutputs | null;
  output_data: NodeOutputs | null;
  item_count: number;
  error: string | null;
  superseded: boolean;
}

export interface ExecutionDetail extends Execution {
  input_items: Item[];
  nodes: NodeRun[];
}

export interface CredentialSlot {
  name: string;
  credential_type: string;
  required: boolean;
  description: string;
}

export interface NodeType {
  type: string;
  version: number;
  display_name: string;
  description: string;
  category: string;
  icon: string;
  inputs: string[];
  outputs: string[];
  dynamic_outputs: boolean;
  loop_output: string | null;
  is_trigger: boolean;
  parameters_schema: JsonSchema;
  credential_slots: CredentialSlot[];
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  examples?: unknown[];
  "x-expressions"?: boolean;
  "x-static"?: boolean;
  "x-condition"?: boolean;
  "x-code-language"?: string;
}

/** A credential type the nodes read, with its fields (GET /api/v1/credentials/types). */
export interface CredentialType {
  type: string;
  display_name: string;
  description: string;
  fields: { name: string; label: string; secret: boolean; required: boolean; description: string; options: string[] }[];
}

export interface Credential {
  id: string;
  name: string;
  type: string;
  fields: string[];
  created_at: string;
  updated_at: string;
}

export type VariableType = "string" | "number" | "boolean" | "json";

export interface Variable {
  id: string;
  name: string;
  value: string;
  type: VariableType;
  scope: string;
  workflow_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface Template {
  id: string;
  name: string;
  description: string | null;
  category: string | null;
  tags: string[];
  is_featured: boolean;
  definition: Definition;
}

export interface WebhookTestSession {
  url: string;
  method: string;
  expires_at: string;
}

export interface WebhookTestStatus {
  status: "listening" | "received" | "expired" | "idle";
  execution_id: string | null;
}

export interface ScheduleOut {
  id: string;
  workflow_id: string;
  node_id: string;
  cron: string | null;
  interval_s: number | null;
  timezone: string;
  next_execution: string | null;
  last_execution: string | null;
  next_fire_times: string[];
}
