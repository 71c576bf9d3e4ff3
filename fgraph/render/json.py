"""JSON output: the analyses' ``to_dict()`` written as is (renderers do not compute)."""

from __future__ import annotations

import json
import math
from typing import IO, Any


def _clean(v: Any) -> Any:
    # NaN/inf are not JSON; they only arise from empty sets, where null is the honest value.
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def write_json(result: Any, out: IO[str]) -> None:
    data = result.to_dict() if hasattr(result, "to_dict") else result
    json.dump(_clean(data), out, indent=2)
    out.write("\n")
