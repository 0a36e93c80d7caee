"""``HumanForm``: the widgets of a ``human`` step's open request in the run view — its
message, one input per form field (text, multiline, number, boolean, choice), a comment box and
one button per offered action. A click calls ``on_answer(action)`` in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as w

__all__ = ["BUTTON_STYLE", "HumanForm"]

BUTTON_STYLE = {"approve": "success", "reject": "danger", "request_revision": "warning"}


def _field_widget(f: dict[str, Any]) -> w.ValueWidget:
    kind, label = f.get("type", "text"), f.get("label") or f["name"]
    wide = {"description_width": "initial"}
    if kind == "number":
        return w.FloatText(description=label, style=wide)
    if kind == "boolean":
        return w.Checkbox(description=label, value=False, style=wide)
    if kind == "choice":
        return w.Dropdown(description=label, options=f.get("options") or [], style=wide)
    if kind == "multiline":
        return w.Textarea(description=label, style=wide)
    return w.Text(description=label, style=wide)


class HumanForm:
    def __init__(
        self,
        pending: dict[str, Any],
        on_answer: Callable[[str], None],
        on_error: Callable[[str], None],
    ) -> None:
        request = pending.get("request") or {}
        self.prompt = w.HTML(
            f'<div class="plait-human" style="border-left:4px solid #bf8700;padding:4px 8px">'
            f"<b>☛ {escape(str(pending.get('node_id')))} is waiting</b><br>"
            f"{escape(str(request.get('message', '')))}</div>"
        )
        self.fields: dict[str, w.ValueWidget] = {
            f["name"]: _field_widget(f) for f in request.get("fields") or []
        }
        self.feedback = w.Text(description="comment", placeholder="optional feedback")
        self._on_answer = on_answer
        self._on_error = on_error
        self.buttons: list[w.Button] = []
        for option in request.get("options") or ["approve", "reject"]:
            button = w.Button(
                description=option.replace("_", " "),
                button_style=BUTTON_STYLE.get(option, "info"),
                tooltip=f"{option} this request",
            )
            button.add_class(f"plait-{option}")
            button.on_click(self._clicked(option))
            self.buttons.append(button)

    @property
    def children(self) -> tuple[w.Widget, ...]:
        return (self.prompt, *self.fields.values(), self.feedback, w.HBox(self.buttons))

    def values(self) -> dict[str, Any]:
        return {
            name: widget.value
            for name, widget in self.fields.items()
            if widget.value not in ("", None)
        }

    def comment(self) -> str | None:
        return self.feedback.value or None

    def _clicked(self, option: str) -> Callable[[Any], None]:
        def handler(_: Any) -> None:
            for b in self.buttons:
                b.disabled = True
            threading.Thread(target=self._answer_in_background, args=(option,), daemon=True).start()

        return handler

    def _answer_in_background(self, option: str) -> None:
        try:
            self._on_answer(option)
        except Exception as exc:  # shown in the view; the buttons work again
            self._on_error(f"⚠ could not answer: {type(exc).__name__}: {exc}")
            for b in self.buttons:
                b.disabled = False
