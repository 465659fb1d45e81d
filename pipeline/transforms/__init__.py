"""Pure DataFrame-to-DataFrame steps of the main job: ingest, hashes, dedup, threads, near-duplicates."""
