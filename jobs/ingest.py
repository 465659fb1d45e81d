"""Ingest a case manifest: the main job, for spark-submit.

    spark-submit --master spark://HOST:7077 \
        --conf spark.pyspark.python=/path/to/.venv/bin/python \
        jobs/ingest.py MANIFEST [--config OVERLAY.yaml] [--json]

On a cluster, every worker needs Trawl installed in that interpreter, and `paths.state_dir` must
be on storage every node sees. `trawl run MANIFEST` runs the same job with local[*].
"""

import argparse
import json
import sys

from pipeline.config import load_config
from pipeline.run import run_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("--config", help="YAML overlay merged over conf/trawl.yaml")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    summary = run_manifest(args.manifest, load_config(args.config))
    print(json.dumps(summary.to_dict()) if args.json else summary)
    return 1 if summary.problems else 0


if __name__ == "__main__":
    sys.exit(main())
