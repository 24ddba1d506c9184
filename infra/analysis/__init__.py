"""Analysis of finished runs: report, billing, export (read the ledger through its store)."""
