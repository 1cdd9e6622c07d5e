"""`python -m closp_demo.evaluation`: the evaluation report (see `closp_demo.evaluation.cli`)."""

from closp_demo.evaluation.cli import main

raise SystemExit(main())
