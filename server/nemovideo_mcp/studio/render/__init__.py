"""The studio's local renderer: a timeline becomes one ffmpeg process with one filter graph.

Stills and text are prepared with Pillow; every frame is then made inside ffmpeg, none passes through Python.
"""

from .fonts import font_report
from .graph import build_command, plan_render
from .model import Asset, RenderFailed
from .runner import render

__all__ = ["Asset", "RenderFailed", "build_command", "font_report", "plan_render", "render"]
