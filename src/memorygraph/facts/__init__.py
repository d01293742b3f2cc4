"""The fact domain: what facts mean, how claims become facts, and what may be remembered.

- `memorygraph.facts.keys`: the fact keys and what each means; fact ids.
- `memorygraph.facts.reconcile`: claims applied to what is known (supersede,
  reject, retract, guards); `FactUpdate`.
- `memorygraph.facts.candidates`: the durable-memory boundary and sensitivity.
- `memorygraph.facts.tasks`: the active task, its step and entities.
- `memorygraph.facts.references`: "the second one", "remove it", resolved.

The extractors (`memorygraph.extractors`) produce the claims; the
``extract_facts`` node (`memorygraph.nodes.extract_facts`) runs both.
"""
