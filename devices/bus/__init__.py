"""The bus runtime: WAMP adapter, clock, ledger, metrics (the only code importing autobahn)."""
