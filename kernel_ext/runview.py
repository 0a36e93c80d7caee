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
from html import escape
from typing import Any

import ipywidgets as w

from kernel_ext.humanform import HumanForm
from kernel_ext.noderow import ICONS, NodeRow
from kernel_ext.render import as_json
from kernel_ext.usage import UsageLine
from workspace.domain.events import Event, EventType
from workspace.domain.graph import ATTACHMENT_KINDS
from workspace.errors import PlaitError, ValidationError

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
        self.form: HumanForm | None = None
        #: LLM tokens and cost: live from the node events, then the stored run's
        self.usage = UsageLine()
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
        self._user_chose = False
        self._selecting = False
        self.nodes.observe(self._chosen, names="selected_index")
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
        usage = handle.usage
        with self._lock:
            self.status = handle.status.value
            self.output = handle.output
            self.error = handle.error
            self._merge_steps(steps)
            self.usage.final = usage
            self.finished = True
            self._render()
            self._changed.notify_all()

    def _merge_steps(self, steps: list[Any]) -> None:
        for s in steps:
            row = self.rows.get(s.node_id)
            if row is None:
                continue
            row.input = s.input
            if s.output is not None:
                row.output = s.output
                model = s.output.get("model") if isinstance(s.output, dict) else None
                if isinstance(model, dict) and model.get("scripted"):
                    self.usage.scripted = True
            if s.error is not None:
                row.error = s.error
            if s.tokens is not None:
                counted = [t.tokens for t in steps if t.node_id == s.node_id and t.tokens]
                row.llm_tokens = sum(counted)

    @property
    def tokens(self) -> int | None:
        """LLM tokens of the run so far (None: no step reported any)."""
        return self.usage.tokens

    @property
    def cost(self) -> float | None:
        """USD of the run so far; None when nothing reported usage or a price is unknown."""
        return self.usage.cost

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
            self._selecting = True  # not a person's choice, if it moves the open row
            try:
                self.nodes.children = (*self.nodes.children, w.HTML())
            finally:
                self._selecting = False
            self.progress.max = len(self.rows)
        if ev.type in NODE_STATUS:
            if ev.type == EventType.NODE_STARTED and row.status == "retrying":
                row.restarted()
            row.status = NODE_STATUS[ev.type]
            if ev.type == EventType.NODE_STARTED:
                row.iterations.add(str(data.get("iteration", "")))
            if "duration_ms" in data:
                row.duration_ms = float(data["duration_ms"])
            if ev.type == EventType.NODE_SUCCEEDED:
                row.output = data.get("output")
            elif ev.type == EventType.NODE_FAILED:
                row.error = data.get("error", data)
            if ev.type in (EventType.NODE_SUCCEEDED, EventType.NODE_FAILED):
                self.usage.node_finished(ev.node_id, data)
                if data.get("tokens") is not None:
                    row.llm_tokens = (row.llm_tokens or 0) + int(data["tokens"])
        elif ev.type == EventType.TOKEN:
            row.add_text(str(data.get("text", data.get("token", ""))))
            self._follow_row(ev.node_id)
        elif ev.type == EventType.TOOL_STARTED:
            row.tool_started(data)
            self._follow_row(ev.node_id)
        elif ev.type == EventType.TOOL_FINISHED:
            row.tool_finished(data)

    def _follow_row(self, node_id: str) -> None:
        """Open the row of the node that streams or calls tools, so its text shows as it
        comes — unless the person chose a row themselves."""
        if self._user_chose:
            return
        index = list(self.rows).index(node_id)
        if self.nodes.selected_index != index:
            self._selecting = True
            try:
                self.nodes.selected_index = index
            finally:
                self._selecting = False

    def _chosen(self, change: dict[str, Any]) -> None:
        if not self._selecting:
            self._user_chose = True

    # -- answering ---------------------------------------------------------------------------

    def _build_human(self) -> None:
        if self.pending is None:
            self.form = None
            self.human.children = ()
            return
        self.form = HumanForm(self.pending, self.answer, self._set_notice)
        self.human.children = self.form.children

    @property
    def buttons(self) -> list[w.Button]:
        """The open request's buttons (none when nothing waits)."""
        return self.form.buttons if self.form is not None else []

    def form_values(self) -> dict[str, Any]:
        return self.form.values() if self.form is not None else {}

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
            typed = self.form.comment() if self.form is not None else None
            comment = feedback if feedback is not None else typed
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
        usage = self.usage.html()
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
