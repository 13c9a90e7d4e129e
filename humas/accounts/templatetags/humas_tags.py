import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """Compact JSON for showing stored payloads (escaped by the template as usual)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
