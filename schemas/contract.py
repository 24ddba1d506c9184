"""Load and validate the AsyncAPI 3.0 contract (``schemas/asyncapi.yaml``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CONTRACT = Path(__file__).resolve().parent / "asyncapi.yaml"


@lru_cache(maxsize=1)
def load_contract(path: str | None = None) -> Any:
    """Return the contract as a validated ``pydantic_asyncapi.v3.AsyncAPI`` object.

    Raises
    ------
    pydantic.ValidationError
        If the document is not valid AsyncAPI 3.0.
    """
    from pydantic_asyncapi import AsyncAPI

    data = yaml.safe_load(Path(path or CONTRACT).read_text())
    return AsyncAPI.model_validate(data).root
