"""Fact extractors: the offline rule-based one (the default) and the LLM one.

Both implement `FactExtractor`; pass either to ``create_memory_graph(extractor=...)``
or ``make_extract_facts(extractor=...)``.
"""

from memorygraph.extractors.base import Claim, Extraction, FactExtractor
from memorygraph.extractors.llm import LLMExtractor
from memorygraph.extractors.rule_based import RuleBasedExtractor

__all__ = ["Claim", "Extraction", "FactExtractor", "LLMExtractor", "RuleBasedExtractor"]
