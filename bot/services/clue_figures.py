"""立案 figures for the reports (件 and 人): clues whose 立案审查 a 委领导 approved in a period.

The count itself lives in ``reports.counts`` (the report, a layer below the use cases, counts
the same way); this name stays for the services and their tests."""

from __future__ import annotations

from reports.counts import filed_counts as filed_counts
