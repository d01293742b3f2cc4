"""The rule-based extractor's rules, split by topic (`memorygraph.extractors.rule_based`).

- `text`: pattern fragments shared by the rules, sentences, cleaning values.
- `personal`: who the person is: names, places, work, tastes, family, plans.
- `health`: allergies, conditions, medication (sensitive).
- `work`: the work at hand: corrections and rejections, decisions, constraints,
  urgency, findings; the task, its step and entity ids.
- `contacts`: emails and phone numbers, and whose they are.
- `matching`: the rules in order, and the claims a match gives.
- `people`: other people ("my wife Ana is ...") and retractions ("I no longer ...").
"""
