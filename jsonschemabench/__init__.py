"""jsonschemabench: scoring syncode's JSON Schema support.

Modes (`python -m jsonschemabench MODE --help`):
- `testsuite`: the JSON-Schema-Test-Suite, every case compiled and its instances forced
  token by token (`testsuite`, `report`);
- `masks`: MaskBench over the JSONSchemaBench schemas: compile time to first mask, time per
  mask, validation and invalidation errors (`masks`).

Modules: `data` (the shared data), `engine` (tokenizers, compile, forcing, timeouts),
`testsuite`, `masks`, `report`, `cli`.
"""
