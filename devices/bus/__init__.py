"""The bus runtime: WAMP adapter, the clock, the ledger, metrics (the only code importing autobahn)."""
