"""Summarizers: fold the turns leaving the window into a `SessionSummary`."""

from memorygraph.summarizers.base import Summarizer
from memorygraph.summarizers.extractive import ExtractiveSummarizer
from memorygraph.summarizers.llm import LLMSummarizer, SummaryDraft

__all__ = ["ExtractiveSummarizer", "LLMSummarizer", "Summarizer", "SummaryDraft"]
