// Knowledge bases: the list (with chunking settings and embedding model when creating one), and a
// knowledge base's page: add documents (upload with progress, a URL, text), their state and
// progress while they are indexed, delete and re-index, and a search box that shows each hit with
// the score of each retriever (vector, text, hybrid).
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/client";
import { ai, type AIModel } from "../api/ai";
import { knowledge, uploadDocument, type Collection, type Hit, type KBDocument, type SearchMode } from "../api/knowledge";
import { Link, navigate } from "../lib/router";
import { Empty, ErrorBox, Field, Modal, timeAgo } from "../layout/ui";

const BADGE: Record<string, string> = {
  indexed: "badge-completed",
  failed: "badge-failed",
  processing: "badge-running",
  pending: "badge-pending",
};

function DocStatus({ status }: { status: string }) {
  return <span className={`badge ${BADGE[status] ?? "badge-none"}`}>{status}</span>;
}

function counts(c: Collection): string {
  const parts = Object.entries(c.documents).map(([status, n]) => `${n} ${status}`);
  return parts.length ? parts.join(", ") : "no documents";
}

export function KnowledgePage() {
  const [items, setItems] = useState<Collection[]>([]);
  const [models, setModels] = useState<AIModel[]>([]);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setItems((await knowledge.list()).items);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => {
    void load();
    ai.models().then((p) => setModels(p.items.filter((m) => m.type === "embedding")), () => undefined);
  }, [load]);
  const modelName = (id: string | null) => (id ? models.find((m) => m.id === id)?.name ?? "a model" : "built-in (all-MiniLM-L6-v2)");

  return (
    <div className="page">
      <header className="page-head">
        <h1>Knowledge bases</h1>
        <button className="btn btn-primary" onClick={() => setCreating(true)}>New knowledge base</button>
      </header>
      <p className="muted">Documents are cut into chunks, embedded and indexed for words in the background; bots, agents and the <strong>kb.search</strong> node search them by meaning, by words, or both.</p>
      <ErrorBox message={error} />
      {items.length === 0 ? (
        <Empty><p>No knowledge bases yet.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Name</th><th>Documents</th><th>Chunks</th><th>Embedding model</th><th>Changed</th></tr></thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id}>
                <td><Link to={`/knowledge/${c.id}`}>{c.name}</Link>{c.description && <div className="muted small">{c.description}</div>}</td>
                <td className="muted">{counts(c)}</td>
                <td className="muted">{c.chunk_size} tokens, overlap {c.chunk_overlap}{c.parent_chunk_size ? `, parents ${c.parent_chunk_size}` : ""}</td>
                <td className="muted">{modelName(c.embedding_model_id)}</td>
                <td className="muted">{timeAgo(c.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <Modal title="New knowledge base" onClose={() => setCreating(false)}>
          <CreateCollection models={models} onCreated={(c) => navigate(`/knowledge/${c.id}`)} />
        </Modal>
      )}
    </div>
  );
}

function CreateCollection({ models, onCreated }: { models: AIModel[]; onCreated: (c: Collection) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [modelId, setModelId] = useState("");
  const [size, setSize] = useState("250");
  const [overlap, setOverlap] = useState("32");
  const [parent, setParent] = useState("");
  const [error, setError] = useState<ApiError | Error | null>(null);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      onCreated(
        await knowledge.create({
          name,
          description: description || null,
          embedding_model_id: modelId || null,
          chunk_size: Number(size),
          chunk_overlap: Number(overlap),
          parent_chunk_size: parent ? Number(parent) : null,
        }),
      );
    } catch (e) {
      setError(e as Error);
    }
  }
  return (
    <form className="form" onSubmit={submit}>
      <Field label="Name" error={fieldError("name")}><input value={name} onChange={(e) => setName(e.target.value)} required autoFocus /></Field>
      <Field label="Description"><input value={description} onChange={(e) => setDescription(e.target.value)} /></Field>
      <Field label="Embedding model" hint="Fixed once documents are indexed with it; changing it indexes every document again." error={fieldError("embedding_model_id")}>
        <select value={modelId} onChange={(e) => setModelId(e.target.value)} aria-label="Embedding model">
          <option value="">Built-in (all-MiniLM-L6-v2, runs on this server)</option>
          {models.map((m) => <option key={m.id} value={m.id}>{m.name} ({m.model_id})</option>)}
        </select>
      </Field>
      <Field label="Chunk size (tokens)" hint="16 to 1024; the built-in model reads at most 254 tokens of a chunk." error={fieldError("chunk_size")}>
        <input type="number" value={size} onChange={(e) => setSize(e.target.value)} min={16} max={1024} required />
      </Field>
      <Field label="Overlap (tokens)" hint="At most half a chunk." error={fieldError("chunk_overlap")}>
        <input type="number" value={overlap} onChange={(e) => setOverlap(e.target.value)} min={0} required />
      </Field>
      <Field label="Parent chunk size (tokens)" hint="Optional: searches return this larger piece around each match." error={fieldError("parent_chunk_size")}>
        <input type="number" value={parent} onChange={(e) => setParent(e.target.value)} placeholder="none" />
      </Field>
      {error && !(error instanceof ApiError && error.errors.length) && <ErrorBox message={errorMessage(error)} />}
      <div className="form-actions"><button className="btn btn-primary" type="submit">Create knowledge base</button></div>
    </form>
  );
}

export function KnowledgeCollectionPage({ collectionId }: { collectionId: string }) {
  const [collection, setCollection] = useState<Collection | null>(null);
  const [documents, setDocuments] = useState<KBDocument[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ name: string; share: number } | null>(null);
  const [url, setUrl] = useState("");
  const [textName, setTextName] = useState("");
  const [text, setText] = useState("");
  const fileInput = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    try {
      const [c, d] = await Promise.all([knowledge.get(collectionId), knowledge.documents(collectionId)]);
      setCollection(c);
      setDocuments(d.items);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [collectionId]);
  useEffect(() => {
    void load();
  }, [load]);
  // While documents are waiting or being indexed, look again every second.
  const busy = documents.some((d) => d.status === "pending" || d.status === "processing");
  useEffect(() => {
    if (!busy) return;
    const timer = window.setInterval(() => void load(), 1000);
    return () => window.clearInterval(timer);
  }, [busy, load]);

  async function act(work: () => Promise<unknown>) {
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(errorMessage(e));
    }
    await load();
  }

  async function upload(files: FileList | null) {
    if (!files) return;
    for (const file of Array.from(files)) {
      setProgress({ name: file.name, share: 0 });
      await act(() => uploadDocument(collectionId, file, (share) => setProgress({ name: file.name, share })));
    }
    setProgress(null);
    if (fileInput.current) fileInput.current.value = "";
  }

  if (!collection) return <div className="page"><ErrorBox message={error} />{!error && <div className="loading">Loading…</div>}</div>;
  return (
    <div className="page">
      <header className="page-head">
        <h1><Link to="/knowledge">Knowledge bases</Link> / {collection.name}</h1>
        <button
          className="btn btn-danger"
          onClick={() => window.confirm(`Delete ${collection.name} with its documents?`) && void act(async () => { await knowledge.remove(collectionId); navigate("/knowledge"); })}
        >
          Delete
        </button>
      </header>
      <p className="muted">
        Chunks of {collection.chunk_size} tokens (overlap {collection.chunk_overlap}
        {collection.parent_chunk_size ? `, parents of ${collection.parent_chunk_size}` : ""}).
        {collection.embedding_dimensions ? ` Vectors of ${collection.embedding_dimensions} dimensions.` : ""}
      </p>
      <ErrorBox message={error} />

      <section className="card">
        <h2>Add documents</h2>
        <div className="form">
          <Field label="Upload files" hint="txt, md, html, pdf, docx or csv; at most 10 MB each.">
            <input ref={fileInput} type="file" multiple aria-label="Upload files" onChange={(e) => void upload(e.target.files)} />
          </Field>
          {progress && (
            <div className="upload-progress">
              <span className="muted small">Uploading {progress.name}</span>{" "}
              <progress max={1} value={progress.share} aria-label="Upload progress" /> {Math.round(progress.share * 100)}%
            </div>
          )}
          <form style={{ display: "flex", gap: 8, alignItems: "center" }} onSubmit={(e) => { e.preventDefault(); void act(async () => { await knowledge.addUrl(collectionId, url); setUrl(""); }); }}>
            <input value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/page" aria-label="Page URL" required />
            <button className="btn" type="submit">Add page</button>
          </form>
          <form className="form" onSubmit={(e) => { e.preventDefault(); void act(async () => { await knowledge.addText(collectionId, textName, text); setTextName(""); setText(""); }); }}>
            <input value={textName} onChange={(e) => setTextName(e.target.value)} placeholder="Name, e.g. faq.txt" aria-label="Text name" required />
            <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} placeholder="Text" aria-label="Text" required />
            <div className="form-actions"><button className="btn" type="submit">Add text</button></div>
          </form>
        </div>
      </section>

      <section className="card">
        <h2>Documents</h2>
        {documents.length === 0 ? (
          <Empty><p>No documents yet.</p></Empty>
        ) : (
          <table className="table" aria-label="Documents">
            <thead><tr><th>Name</th><th>State</th><th>Progress</th><th>Source</th><th>Changed</th><th /></tr></thead>
            <tbody>
              {documents.map((d) => (
                <tr key={d.id} data-document={d.name}>
                  <td>{d.name}{d.error && <div className="field-error small" role="alert">{d.error}</div>}</td>
                  <td><DocStatus status={d.status} /></td>
                  <td className="muted">
                    {d.status === "processing" && d.chunk_count > 0 ? (
                      <><progress max={d.chunk_count} value={d.chunks_embedded} /> {d.chunks_embedded}/{d.chunk_count}</>
                    ) : d.status === "indexed" ? `${d.chunk_count} chunk${d.chunk_count === 1 ? "" : "s"}` : ""}
                  </td>
                  <td className="muted">{d.source_url ?? d.source}</td>
                  <td className="muted">{timeAgo(d.updated_at)}</td>
                  <td>
                    {d.characters > 0 && <button className="btn btn-small" onClick={() => void act(() => knowledge.reindex(d.id))}>Re-index</button>}{" "}
                    <button className="btn btn-small" onClick={() => void act(() => knowledge.removeDocument(d.id))}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <SearchBox collectionId={collectionId} />
    </div>
  );
}

/** A score: four decimals, or three significant digits when smaller (bm25 of a tiny corpus). */
const fmt = (n: number | null) => (n === null ? "—" : n === 0 || Math.abs(n) >= 0.001 ? n.toFixed(4) : n.toPrecision(3));

function SearchBox({ collectionId }: { collectionId: string }) {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<SearchMode>("hybrid");
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      setHits((await knowledge.search(collectionId, query, mode)).hits);
    } catch (e) {
      setError(errorMessage(e));
    }
  }
  return (
    <section className="card">
      <h2>Search</h2>
      <form style={{ display: "flex", gap: 8, alignItems: "center" }} onSubmit={submit}>
        <input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Ask something" aria-label="Search query" required />
        <select value={mode} onChange={(e) => setMode(e.target.value as SearchMode)} aria-label="Search mode">
          <option value="hybrid">Hybrid (both, fused)</option>
          <option value="vector">By meaning (vectors)</option>
          <option value="text">By words (full text)</option>
        </select>
        <button className="btn btn-primary" type="submit">Search</button>
      </form>
      <ErrorBox message={error} />
      {hits && (hits.length === 0 ? (
        <Empty><p>Nothing found.</p></Empty>
      ) : (
        <table className="table" aria-label="Search results">
          <thead><tr><th>#</th><th>Chunk</th><th>Vector</th><th>Text</th><th>Hybrid</th></tr></thead>
          <tbody>
            {hits.map((h, i) => (
              <tr key={h.chunk_id}>
                <td>{i + 1}</td>
                <td><div className="muted small">{h.document_name}</div><div className="hit-content">{h.content}</div></td>
                <td className="score" data-retriever="vector">{fmt(h.scores.vector)}</td>
                <td className="score" data-retriever="text">{fmt(h.scores.text)}</td>
                <td className="score" data-retriever="hybrid">{fmt(h.scores.hybrid)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}
