"""``python -m benchmarks`` runs the harness."""

from benchmarks.run import main

raise SystemExit(main())
