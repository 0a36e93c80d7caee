"""``RunView``: a live ipywidgets view of one run, fed by its event stream.

One row per node (status icon, duration, expandable input/output), a progress bar, the final
output, and for a waiting ``human`` step its prompt, form fields and one button per offered
action, which answer the request (``resume``). A background thread follows the events from the
last ``seq`` it applied; when the workspace cannot be reached it says so in the view and
retries, resuming where it stopped once the workspace is back. Attaching to a finished or
waiting run (``%plait show RUN_ID``, e.g. after a kernel restart) replays its events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from typing import Any

import ipywidgets as w

from kernel_ext.render import as_json
from workspace.domain.events import Event, EventType
from workspace.domain.graph import ATTACHMENT_KINDS
from workspace.errors import PlaitError, ValidationError

#: status marks that render in every font (emoji may not, e.g. in a headless browser)
ICONS = {
    "pending": "○",
    "running": "◐",
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "↷",
    "retrying": "↻",
    "waiting": "☛",
    "cancelled": "⊘",
    "queued": "○",
    "paused": "‖",
}
TERMINAL = {"succeeded", "failed", "cancelled"}
DONE = {"succeeded", "failed", "skipped"}
NODE_STATUS = {
    EventType.NODE_STARTED: "running",
    EventType.NODE_SUCCEEDED: "succeeded",
    EventType.NODE_FAILED: "failed",
    EventType.NODE_SKIPPED: "skipped",
    EventType.NODE_RETRYING: "retrying",
    EventType.NODE_WAITING: "waiting",
}
RUN_STATUS = {
    EventType.RUN_QUEUED: "queued",
    EventType.RUN_STARTED: "running",
    EventType.RUN_RESUMED: "running",
    EventType.RUN_PAUSED: "paused",
    EventType.RUN_SUCCEEDED: "succeeded",
    EventType.RUN_FAILED: "failed",
    EventType.RUN_CANCELLED: "cancelled",
}
BUTTON_STYLE = {"approve": "success", "reject": "danger", "request_revision": "warning"}


@dataclass
class NodeRow:
    node_id: str
    type: str
    status: str = "pending"
    duration_ms: float | None = None
    iterations: set[str] = field(default_factory=set)
    input: Any = None
    output: Any = None
    error: Any = None
    tokens: list[str] = field(default_factory=list)

    def title(self) -> str:
        took = f" — {self.duration_ms:.0f} ms" if self.duration_ms is not None else ""
        runs = len(self.iterations)
        times = f" x{runs}" if runs > 1 else ""
        return (
            f"{ICONS.get(self.status, '?')} {self.node_id} ({self.type}) {self.status}{times}{took}"
        )

    def detail(self) -> str:
        parts = []
        for name, value in (("input", self.input), ("output", self.output), ("error", self.error)):
            if value is not None:
                parts.append(f"<b>{name}</b><pre>{escape(as_json(value))}</pre>")
        if self.tokens:
            parts.append(f"<b>tokens</b><pre>{escape(''.join(self.tokens))}</pre>")
        return "".join(parts) or "<i>no data yet</i>"


class RunView:
    def __init__(self, ws: Any, run_id: str, *, start: bool = True) -> None:
        self.ws = ws
        self.run_id = run_id
        run = ws.get_run(run_id).run
        self.slug: str = run.workflow_slug
        self.status: str = run.status.value
        self.output: Any = None
        self.error: Any = None
        self.pending: dict[str, Any] | None = None
        #: totals of the step records that report them (AI steps)
        self.tokens: int | None = None
        self.cost: float | None = None
        self.last = 0
        #: the run is over and its stored records are shown (nothing more will change)
        self.finished = False
        self.notice_text = ""
        self.rows: dict[str, NodeRow] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        for node_id, type_ in self._nodes_of(run.workflow_slug, run.version_number):
            self.rows[node_id] = NodeRow(node_id, type_)
        self.header = w.HTML()
        self.progress = w.IntProgress(min=0, max=max(1, len(self.rows)), value=0)
        self.notice = w.HTML()
        self.nodes = w.Accordion(children=[w.HTML() for _ in self.rows])
        self.human = w.VBox()
        self.result = w.HTML()
        self.widget = w.VBox(
            [self.header, self.progress, self.notice, self.nodes, self.human, self.result]
        )
        self.widget.add_class("plait-run-view")
        self._render()
        if start:
            self.start()

    def _nodes_of(self, slug: str, version: int) -> list[tuple[str, str]]:
        try:
            graph = self.ws.graph(slug, draft=False)
        except PlaitError:
            return []
        attached = {e.source for e in graph.edges if e.kind in ATTACHMENT_KINDS}
        return [(n.id, n.type) for n in graph.nodes if n.id not in attached]

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<RunView {self.run_id} {self.slug} {self.status}>"

    # -- following ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        if self.status in TERMINAL:  # a finished run: replay it now, nothing more will come
            try:
                for event in self.ws.events(self.run_id, after=self.last):
                    self.apply(event)
                self._finish()
                return
            except PlaitError as exc:
                self._set_notice(f"⚠ could not read the run yet ({exc}); retrying")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._follow, daemon=True, name=f"plait-view-{self.run_id}"
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop following and wait for the follower thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _follow(self) -> None:
        backoff = 0.5
        lost = False
        while not self._stop.is_set():
            try:
                if lost:
                    self.ws.get_run(self.run_id)  # reachable again?
                    self._set_notice("")
                    lost = False
                    backoff = 0.5
                stream: Iterator[Event] = iter(self.ws.events(self.run_id, after=self.last))
                while not self._stop.is_set():
                    try:
                        event = next(stream)
                    except StopIteration:
                        break
                    self.apply(event)
                if not self._stop.is_set():
                    self._finish()
                return
            except Exception as exc:  # the workspace is unreachable: say so, retry
                lost = True
                self._set_notice(
                    f"⚠ connection to the workspace lost ({type(exc).__name__}: {exc}); "
                    f"retrying every {backoff:.1f} s — the view resumes from event {self.last}"
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _finish(self) -> None:
        """The run is over: the stored run and step records fill in outputs and inputs."""
        handle = self.ws.get_run(self.run_id)
        steps = handle.steps
        with self._lock:
            self.status = handle.status.value
            self.output = handle.output
            self.error = handle.error
            self._merge_steps(steps)
            self.finished = True
            self._render()
            self._changed.notify_all()

    def _merge_steps(self, steps: list[Any]) -> None:
        tokens = [s.tokens for s in steps if s.tokens is not None]
        costs = [s.cost for s in steps if s.cost is not None]
        self.tokens = sum(tokens) if tokens else None
        self.cost = sum(costs) if costs else None
        for s in steps:
            row = self.rows.get(s.node_id)
            if row is None:
                continue
            row.input = s.input
            if s.output is not None:
                row.output = s.output
            if s.error is not None:
                row.error = s.error

    def apply(self, ev: Event) -> None:
        with self._lock:
            if ev.seq <= self.last:
                return
            self.last = ev.seq
            self._apply(ev)
            self._render()
            self._changed.notify_all()

    def _apply(self, ev: Event) -> None:
        data = ev.data
        if ev.type in RUN_STATUS:
            self.status = RUN_STATUS[ev.type]
            if ev.type == EventType.RUN_SUCCEEDED:
                self.output = data.get("output")
            elif ev.type == EventType.RUN_FAILED:
                self.error = data.get("error", data)
            if self.status in TERMINAL:
                self.pending = None
            return
        if ev.type == EventType.HUMAN_REQUESTED:
            self.status = "waiting"
            self.pending = {"node_id": ev.node_id, "token": data.get("token"), **data}
            self._build_human()
            return
        if ev.type == EventType.HUMAN_ANSWERED:
            self.pending = None
            self._build_human()
            return
        if ev.node_id is None:
            return
        row = self.rows.get(ev.node_id)
        if row is None:
            row = self.rows[ev.node_id] = NodeRow(ev.node_id, "?")
            self.nodes.children = (*self.nodes.children, w.HTML())
            self.progress.max = len(self.rows)
        if ev.type in NODE_STATUS:
            row.status = NODE_STATUS[ev.type]
            if ev.type == EventType.NODE_STARTED:
                row.iterations.add(str(data.get("iteration", "")))
            if "duration_ms" in data:
                row.duration_ms = float(data["duration_ms"])
            if ev.type == EventType.NODE_SUCCEEDED:
                row.output = data.get("output")
            elif ev.type == EventType.NODE_FAILED:
                row.error = data.get("error", data)
        elif ev.type == EventType.TOKEN:
            row.tokens.append(str(data.get("text", data.get("token", ""))))

    # -- answering ---------------------------------------------------------------------------

    def _build_human(self) -> None:
        if self.pending is None:
            self.human.children = ()
            return
        request = self.pending.get("request") or {}
        prompt = w.HTML(
            f'<div class="plait-human" style="border-left:4px solid #bf8700;padding:4px 8px">'
            f"<b>☛ {escape(str(self.pending.get('node_id')))} is waiting</b><br>"
            f"{escape(str(request.get('message', '')))}</div>"
        )
        self._fields: dict[str, tuple[str, w.ValueWidget]] = {}
        inputs: list[w.Widget] = []
        for f in request.get("fields") or []:
            kind, name = f.get("type", "text"), f["name"]
            label = f.get("label") or name
            wide = {"description_width": "initial"}
            widget: w.ValueWidget
            if kind == "number":
                widget = w.FloatText(description=label, style=wide)
            elif kind == "boolean":
                widget = w.Checkbox(description=label, value=False, style=wide)
            elif kind == "choice":
                widget = w.Dropdown(description=label, options=f.get("options") or [], style=wide)
            elif kind == "multiline":
                widget = w.Textarea(description=label, style=wide)
            else:
                widget = w.Text(description=label, style=wide)
            self._fields[name] = (kind, widget)
            inputs.append(widget)
        self.feedback = w.Text(description="comment", placeholder="optional feedback")
        self.buttons = []
        for option in request.get("options") or ["approve", "reject"]:
            button = w.Button(
                description=option.replace("_", " "),
                button_style=BUTTON_STYLE.get(option, "info"),
                tooltip=f"{option} this request",
            )
            button.add_class(f"plait-{option}")
            button.on_click(self._clicked(option))
            self.buttons.append(button)
        self.human.children = (prompt, *inputs, self.feedback, w.HBox(self.buttons))

    def _clicked(self, option: str) -> Callable[[Any], None]:
        def handler(_: Any) -> None:
            for b in self.buttons:
                b.disabled = True
            threading.Thread(target=self._answer_in_background, args=(option,), daemon=True).start()

        return handler

    def _answer_in_background(self, option: str) -> None:
        try:
            self.answer(option)
        except Exception as exc:  # shown in the view; the buttons work again
            self._set_notice(f"⚠ could not answer: {type(exc).__name__}: {exc}")
            for b in self.buttons:
                b.disabled = False

    def form_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, (_, widget) in getattr(self, "_fields", {}).items():
            if widget.value not in ("", None):
                values[name] = widget.value
        return values

    def answer(
        self,
        action: str = "approve",
        *,
        data: dict[str, Any] | None = None,
        feedback: str | None = None,
        wait: bool = False,
        timeout_s: float = 60.0,
    ) -> RunView:
        """Answer the open human request (what the buttons do); ``data`` defaults to the form
        fields, ``feedback`` to the comment box. ``wait``: until the run finishes or waits."""
        with self._lock:
            pending = self.pending
            if pending is None or not pending.get("token"):
                raise ValidationError(
                    f"run {self.run_id} has no open request to answer", code="not_waiting"
                )
            values = self.form_values() if data is None else data
            comment = feedback if feedback is not None else (self.feedback.value or None)
        answer: Any = action
        if values or comment:
            answer = {"action": action, "data": values, "feedback": comment}
        token = pending["token"]
        self.ws.resume(self.run_id, token, answer, wait=False)
        if wait:
            self.wait(
                timeout_s,
                until=lambda: (
                    self.finished
                    or (self.pending is not None and self.pending.get("token") != token)
                ),
            )
        return self

    # -- waiting -----------------------------------------------------------------------------

    @property
    def stable(self) -> bool:
        return (
            self.finished
            or self.status == "paused"
            or (self.status == "waiting" and self.pending is not None)
        )

    def wait(self, timeout_s: float = 60.0, *, until: Callable[[], bool] | None = None) -> RunView:
        """Block until the view shows the run finished or waiting for a person (or ``until``)."""
        check = until or (lambda: self.stable)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"run {self.run_id} is still {self.status} after {timeout_s} s"
                    )
                self._changed.wait(min(left, 0.5))
        return self

    # -- rendering ---------------------------------------------------------------------------

    def _set_notice(self, text: str) -> None:
        with self._lock:
            self.notice_text = text
            self.notice.value = (
                f'<div class="plait-notice" style="background:#fff1f0;border:1px solid #f0a8a0;'
                f'padding:4px 8px;border-radius:4px">{escape(text)}</div>'
                if text
                else ""
            )

    def _render(self) -> None:
        icon = ICONS.get(self.status, "")
        self.header.value = (
            f'<div class="plait-header" style="font-family:system-ui,sans-serif">'
            f"<b>{escape(self.slug)}</b> · run <code>{escape(self.run_id)}</code> · "
            f'<span class="plait-status" data-status="{escape(self.status)}">'
            f"{icon} {escape(self.status)}</span></div>"
        )
        rows = list(self.rows.values())
        done = sum(1 for r in rows if r.status in DONE)
        self.progress.max = max(1, len(rows))
        self.progress.value = len(rows) if self.status == "succeeded" else min(done, len(rows))
        self.progress.description = f"{done}/{len(rows)}"
        self.progress.bar_style = {
            "succeeded": "success",
            "failed": "danger",
            "cancelled": "danger",
            "waiting": "warning",
        }.get(self.status, "info")
        self.nodes.titles = tuple(r.title() for r in rows)
        for child, row in zip(self.nodes.children, rows, strict=False):
            child.value = row.detail()  # type: ignore[attr-defined]
        usage = ""
        if self.tokens is not None or self.cost is not None:
            parts = [f"{self.tokens} tokens"] if self.tokens is not None else []
            parts += [f"cost ${self.cost:.4f}"] if self.cost is not None else []
            usage = f'<div class="plait-usage">{escape(" · ".join(parts))}</div>'
        if self.status == "succeeded":
            shown = escape(as_json(self.output))
            self.result.value = (
                f'<div class="plait-output"><b>output</b><pre>{shown}</pre></div>{usage}'
            )
        elif self.status in ("failed", "cancelled"):
            self.result.value = (
                f'<div class="plait-output plait-failed"><b>{escape(self.status)}</b>'
                f"<pre>{escape(as_json(self.error))}</pre></div>{usage}"
            )
        else:
            self.result.value = usage
