"""jsonschemabench: scoring constrained-decoding engines (syncode and its peers) on JSON Schema.

Modes (`python -m jsonschemabench MODE --help`):
- `testsuite`: the JSON-Schema-Test-Suite, every case compiled and its instances forced
  token by token;
- `masks`: MaskBench over the JSONSchemaBench schemas: time to first mask, time per mask,
  validation and invalidation errors;
- `generate`: the JSONSchemaBench paper's generation metrics with a model;
- `report`: re-render run files (markdown, plots).

Modules: `data`, `engine` (the engine interface, syncode), `peers`, `testsuite` (one case),
`workers` (processes and hard limits), `runlog` (the JSONL run file), `masks`, `generate`,
`known`, `report`, `plots`, `cli`. See README.md beside this file.
"""
