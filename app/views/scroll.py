"""A point on a page that a view can bring into sight: after a run, its results or its problems.

The What-if page's editor (controls and three tables) fills the first screen at 1366 x 768, so a
run's KPI cards, or the message saying why it could not run, appear below the fold and the page
looked as if Run had done nothing. The view bumps :attr:`ScrollTarget.tick`; the browser scrolls
the target to the top of the window. No script is fetched: the module is inline.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent


class ScrollTarget(JSComponent):
    """An empty, zero-height element; each change of ``tick`` scrolls it into view."""

    tick = param.Integer(default=0, doc="bump to scroll the target into view")

    _esm = """
    export function render({ model, el }) {
      const mark = document.createElement("div");
      mark.className = "scroll-target";
      model.on("tick", () => mark.scrollIntoView({ block: "start" }));
      return mark;
    }
    """

    def bring_into_view(self) -> None:
        self.tick += 1
