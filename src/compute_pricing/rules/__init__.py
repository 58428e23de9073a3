"""Pure business rules, one module per topic; no I/O, no clock reads.

- :mod:`.attribution` — costs to units, ratios, cap, step keys (DESIGN 3.2)
- :mod:`.overflow` — quota/extras split and thresholds (DESIGN 3.3)
- :mod:`.ledger` — lots, burn order, credits, refunds, ledger lines (DESIGN 3.4)
- :mod:`.weeks` — week anchoring, due resets, settlement (DESIGN 3.5)
- :mod:`.gate` — effective quota, dunning stage, remaining compute (DESIGN 3.6, 3.7)
- :mod:`.legacy` — monthly ``resource.action`` counters (DESIGN 1, legacy mode)
"""
