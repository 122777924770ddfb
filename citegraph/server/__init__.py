"""CiteGraph HTTP server: OpenAI-compatible API, native endpoints and the web chat page."""
