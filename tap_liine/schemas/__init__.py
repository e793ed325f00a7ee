"""JSON schemas of the streams, one module per source, every documented field typed."""
