"""Understand one inbound citizen message: language, sentiment, category, urgency, abuse,
personal data and suspicious links. See ``docs/triage.md``."""

from humas.triage.engine import Triage, classify, classify_many, mask

__all__ = ["Triage", "classify", "classify_many", "mask"]
