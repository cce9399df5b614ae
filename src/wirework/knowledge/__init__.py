"""Knowledge bases: collections, documents, chunks, ingestion and hybrid search."""
