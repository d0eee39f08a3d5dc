"""Test helpers: metric names in PromQL expressions, and a scrape of a registry."""
import re

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])[a-zA-Z_:][\w:]*\b(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (function names and labels excluded)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = _GROUPING.sub("", expr)
    return {name for name in _IDENTIFIER.findall(expr) if name.lower() not in _KEYWORDS}


def sample_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name in a text scrape of the registry (histograms give _bucket/_sum/_count)."""
    text = generate_latest(registry).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
