"""Bundled example models (model files in this folder; facts in README.md)."""
from __future__ import annotations

import json
from importlib import resources


def example_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))


def example_path(name: str):
    """Path of the bundled example *name* (KeyError if there is none)."""
    p = resources.files(__name__) / f"{name}.json"
    if not p.is_file():
        raise KeyError(name)
    return p


def example_description(name: str) -> str:
    with open(example_path(name), encoding="utf-8") as fh:
        return json.load(fh).get("description", "")
