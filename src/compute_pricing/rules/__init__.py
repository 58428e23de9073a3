"""Pure business rules, one module per topic; no I/O, no clock reads.

- :mod:`.attribution` — costs to units, ratios, cap, step keys (docs/rules.md "Attribution")
- :mod:`.overflow` — quota/extras split and thresholds (docs/rules.md "Weekly usage and overflow")
- :mod:`.ledger` — lots, burn order, credits, refunds, ledger lines (docs/rules.md "Extras ledger")
- :mod:`.weeks` — week anchoring, due resets, settlement (docs/rules.md "Week reset")
- :mod:`.gate` — effective quota, dunning stage, remaining (docs/rules.md "Quota gate", "Dunning")
- :mod:`.legacy` — monthly ``resource.action`` counters (docs/rules.md "Modes")
"""
