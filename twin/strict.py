"""The base of every config model: unknown fields are an error, so typos do not pass silently."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Strict"]


class Strict(BaseModel):
    """Base for config models: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)
