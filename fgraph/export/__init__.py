"""Hand-offs: table writers (csv/jsonl/parquet), folded stacks, Perfetto JSON, trimmed text."""
