"""The app's pages, one module each, and the one list of them that `app.py`, the pages
that link to each other and the tests all read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    slug: str  # the module's name and the page's URL path
    title: str
    icon: str
    default: bool = False

    @property
    def path(self) -> str:
        """The page's file, relative to the repository (where `app.py` runs from)."""
        return f"fashion/ui/pages/{self.slug}.py"


# In the sidebar's order.
PAGES: tuple[PageInfo, ...] = (
    PageInfo("classify", "Classify", ":material/checkroom:", default=True),
    PageInfo("confusion", "Confusion matrix", ":material/grid_on:"),
    PageInfo("mistakes", "Mistakes explorer", ":material/search:"),
    PageInfo("map", "Map", ":material/scatter_plot:"),
    PageInfo("compare", "Model vs model", ":material/compare_arrows:"),
    PageInfo("models", "Models", ":material/monitoring:"),
    PageInfo("playground", "Playground", ":material/model_training:"),
    PageInfo("dataset", "Dataset", ":material/dataset:"),
)


def path(slug: str) -> str:
    """The file of the page `slug` (KeyError for an unknown one)."""
    return {p.slug: p.path for p in PAGES}[slug]
