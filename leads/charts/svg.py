"""The SVG template environment: autoescaped (scraped names are text, never markup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
#: colours (presentation attributes): the console's palette
PALETTE = ("#1f5fa8", "#c0392b", "#27864a", "#b9770e", "#7d3c98", "#117a8b", "#6e6e6e", "#a04000")


def render_svg(template: str, **context: Any) -> Markup:
    """A chart as SVG markup (safe to put in a page: the template escaped every value)."""
    return Markup(_ENV.get_template(template).render(palette=PALETTE, **context).strip())
