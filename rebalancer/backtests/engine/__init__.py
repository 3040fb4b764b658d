"""The backtest engine (no Django): replay of the autopilot's pure core, fast path, reports.

* :mod:`.replay` — :func:`replay`, the day-by-day replay through ``cycle_decide``;
* :mod:`.ledger` — :class:`PaperLedger`, the in-memory ledger and its invariants;
* :mod:`.fast` — :func:`fixed_weight_backtest`, the vectorized fixed-weight path;
* :mod:`.baselines` — buy and hold, equal weight monthly, 60/40;
* :mod:`.report` — :func:`backtest_report`, strategies + baselines + metrics + table;
* :mod:`.schedule`, :mod:`.taxes`, :mod:`.config`.
"""
