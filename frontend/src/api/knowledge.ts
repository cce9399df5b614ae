// Knowledge bases (/api/v1/kb): collections, documents, search. Uploads go through XMLHttpRequest
// so the page can show their progress (fetch has no upload progress).
import { api, ApiError, CSRF_COOKIE, CSRF_HEADER, readCookie, readableMessage, type FieldError } from "./client";
import type { Page } from "./types";

export type DocumentStatus = "pending" | "processing" | "indexed" | "failed";
export type SearchMode = "hybrid" | "vector" | "text";

export interface Collection {
  id: string;
  name: string;
  description: string | null;
  bot_id: string | null;
  metadata: Record<string, unknown>;
  embedding_model_id: string | null;
  embedding_dimensions: number | null;
  chunk_size: number;
  chunk_overlap: number;
  parent_chunk_size: number | null;
  index_version: number;
  documents: Partial<Record<DocumentStatus, number>>;
  created_at: string;
  updated_at: string;
}

export interface CollectionInput {
  name: string;
  description?: string | null;
  embedding_model_id?: string | null;
  chunk_size?: number;
  chunk_overlap?: number;
  parent_chunk_size?: number | null;
}

export interface KBDocument {
  id: string;
  collection_id: string;
  name: string;
  source: "upload" | "url" | "api";
  source_url: string | null;
  mime_type: string | null;
  size_bytes: number;
  characters: number;
  metadata: Record<string, unknown>;
  status: DocumentStatus;
  error: string | null;
  chunk_count: number;
  chunks_embedded: number;
  attempts: number;
  indexed_at: string | null;
  created_at: string;
  updated_at: string;
  changed?: boolean | null;
}

export interface Hit {
  chunk_id: number;
  document_id: string;
  document_name: string;
  collection_id: string;
  content: string;
  score: number;
  scores: { vector: number | null; text: number | null; hybrid: number | null };
  metadata: Record<string, unknown>;
}

export const knowledge = {
  list: () => api.get<Page<Collection>>("kb/collections", { limit: 200 }),
  get: (id: string) => api.get<Collection>(`kb/collections/${id}`),
  create: (body: CollectionInput) => api.post<Collection>("kb/collections", body),
  update: (id: string, body: Partial<CollectionInput>) => api.patch<Collection>(`kb/collections/${id}`, body),
  remove: (id: string) => api.delete(`kb/collections/${id}`),
  documents: (id: string) => api.get<Page<KBDocument>>(`kb/collections/${id}/documents`, { limit: 200 }),
  addText: (id: string, name: string, text: string) =>
    api.post<KBDocument>(`kb/collections/${id}/documents`, { name, text }),
  addUrl: (id: string, url: string) => api.post<KBDocument>(`kb/collections/${id}/documents`, { url }),
  removeDocument: (documentId: string) => api.delete(`kb/documents/${documentId}`),
  reindex: (documentId: string) => api.post<KBDocument>(`kb/documents/${documentId}/reindex`),
  search: (id: string, query: string, mode: SearchMode, limit = 10) =>
    api.post<{ mode: SearchMode; hits: Hit[] }>(`kb/collections/${id}/search`, { query, mode, limit }),
};

/** Upload a file as a document; `onProgress` gets the share sent (0..1). */
export function uploadDocument(collectionId: string, file: File, onProgress: (share: number) => void): Promise<KBDocument> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/kb/collections/${collectionId}/documents`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) xhr.setRequestHeader(CSRF_HEADER, csrf);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, "Network error", "The server could not be reached."));
    xhr.onload = () => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(xhr.responseText || "{}");
      } catch {
        data = {};
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(data as unknown as KBDocument);
        return;
      }
      const errors = Array.isArray(data.errors)
        ? (data.errors as FieldError[]).map((e) => ({ ...e, msg: readableMessage(e.msg) }))
        : [];
      reject(new ApiError(xhr.status, String(data.title ?? xhr.statusText), String(data.detail ?? `Upload failed (${xhr.status}).`), errors));
    };
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
