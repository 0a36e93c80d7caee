"""``%%workflow``, ``%%step`` and ``%plait``: authoring and running workflows from cells.

Every Plait error becomes an inline HTML message (DSL problems with the cell source, line
numbers and the offending text marked) — never a traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable
from typing import Any

import yaml
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.display import HTML, display

from kernel_ext import render, session
from kernel_ext.graphview import graph_html
from kernel_ext.runview import RunView
from workspace.client import RemoteWorkspace
from workspace.errors import DSLError, PlaitError

#: the run views this kernel showed, newest last (``%plait approve`` answers the newest)
views: list[RunView] = []


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never SystemExit in a kernel
        raise UsageError(f"{self.prog}: {message}")


def _parser(prog: str) -> _Parser:
    return _Parser(prog=prog, add_help=False, exit_on_error=False)


def with_slug(text: str, slug: str) -> str:
    """A document naming neither ``name`` nor ``slug`` gets the cell's name (appended, so
    line numbers stay those of the cell)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(data, dict) and not data.get("name") and not data.get("slug"):
        return f"{text.rstrip(chr(10))}\nslug: {slug}\nname: {slug}\n"
    return text


def _problems_json(exc: DSLError) -> list[dict[str, Any]]:
    return [p.to_dict() for p in exc.problems]


def _guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Plait errors and bad usage shown inline instead of a traceback."""

    def wrapper(self: PlaitMagics, line: str, cell: str | None = None) -> Any:
        try:
            return func(self, line) if cell is None else func(self, line, cell)
        except UsageError as exc:
            display(HTML(render.message(str(exc), kind="err", title="usage")))
        except DSLError as exc:
            display(HTML(render.problems(cell or "", _problems_json(exc), title="invalid")))
        except PlaitError as exc:
            display(HTML(render.message(exc.message, kind="err", title=exc.code)))
        return None

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@magics_class
class PlaitMagics(Magics):
    # -- authoring ---------------------------------------------------------------------------

    @cell_magic
    @no_var_expand
    @_guard
    def workflow(self, line: str, cell: str) -> None:
        """%%workflow NAME [--draft] [--publish]: validate the DSL in the cell, save it as the
        workflow's draft, publish on request, show the graph."""
        p = _parser("%%workflow")
        p.add_argument("name")
        p.add_argument("--draft", action="store_true")
        p.add_argument("--publish", action="store_true")
        args = p.parse_args(shlex.split(line))
        ws = session.current()
        text = with_slug(cell, args.name)
        report = ws.validate(text, draft=args.draft).to_json()
        if not report["valid"]:
            display(
                HTML(
                    render.problems(
                        cell,
                        report["errors"],
                        warnings=report["warnings"],
                        title=f"%%workflow {args.name}: not saved",
                    )
                )
            )
            return
        wf = ws.save(text, draft=args.draft)
        if wf.slug != args.name:
            display(
                HTML(
                    render.message(
                        f"saved as {wf.slug!r}: the document's name gives that slug, not "
                        f"{args.name!r} (use `slug: {args.name}` to keep the cell's name)",
                        kind="warn",
                    )
                )
            )
        saved = f"draft of {wf.slug!r} saved"
        if args.publish:
            ver = ws.publish(wf.slug)
            saved += f", published as version {ver.number}"
        out = render.message(saved, kind="ok")
        out += render.missing(report["missing"])
        if report["warnings"]:
            out += render.problems(cell, [], warnings=report["warnings"], title="warnings")
        out += graph_html(ws.graph(wf.slug), title=wf.name)
        display(HTML(out))

    @cell_magic
    @no_var_expand
    @_guard
    def step(self, line: str, cell: str) -> None:
        """%%step NAME.STEP_ID [--type TYPE] [--after STEP]: the cell body becomes the step's
        code/template/prompt (or, for other types, a YAML mapping of its config)."""
        p = _parser("%%step")
        p.add_argument("target")
        p.add_argument("--type")
        p.add_argument("--after")
        args = p.parse_args(shlex.split(line))
        slug, dot, step_id = args.target.partition(".")
        if not dot or not slug or not step_id:
            raise UsageError(f"%%step: expected NAME.STEP_ID, got {args.target!r}")
        ws = session.current()
        try:
            wf = ws.save_step(slug, step_id, cell, type=args.type, after=args.after)
        except DSLError as exc:
            found = [  # a patch's positions are in the generated fork document, not the cell
                {**p, "line": None, "column": None} if str(p["path"]).startswith("patches") else p
                for p in _problems_json(exc)
            ]
            display(HTML(render.problems(cell, found, title=f"%%step {args.target}: not saved")))
            return
        out = render.message(f"step {step_id!r} of {wf.slug!r} saved in the draft", kind="ok")
        out += graph_html(ws.graph(wf.slug), title=wf.name, highlight=step_id)
        display(HTML(out))

    # -- %plait ------------------------------------------------------------------------------

    @line_magic
    @no_var_expand
    @_guard
    def plait(self, line: str) -> Any:
        """%plait connect [DIR | URL --key KEY] | run NAME [--input JSON] [--thread T] [--wait] |
        show RUN_ID | runs [NAME] | publish NAME | approve/reject [RUN_ID] | workflows"""
        words = [self._expand(w) for w in shlex.split(line)]
        if not words:
            raise UsageError("%plait connect|run|show|runs|publish|approve|reject|workflows ...")
        command, rest = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            raise UsageError(f"%plait: unknown command {command!r}")
        return handler(rest)

    def _expand(self, word: str) -> str:
        """``$name`` is the value of a variable of the notebook (nothing else is expanded, so
        JSON arguments stay as written)."""
        name = word[1:]
        if word.startswith("$") and name.isidentifier():
            if name not in self.shell.user_ns:
                raise UsageError(f"%plait: no variable {name!r}")
            return str(self.shell.user_ns[name])
        return word

    def _cmd_connect(self, argv: list[str]) -> None:
        p = _parser("%plait connect")
        p.add_argument("target", nargs="?")
        p.add_argument("--key")
        p.add_argument("--inline", action="store_true")
        args = p.parse_args(argv)
        ws = session.connect(args.target, key=args.key, inline=args.inline)
        for view in views:  # they followed the previous connection, now closed
            view.stop()
        display(HTML(render.message(f"connected to {session.describe(ws)}", kind="ok")))

    def _cmd_run(self, argv: list[str]) -> None:
        p = _parser("%plait run")
        p.add_argument("name")
        p.add_argument("--input", default=None)
        p.add_argument("--wait", action="store_true")
        p.add_argument("--timeout", type=float, default=60.0)
        p.add_argument("--thread", default=None)
        args = p.parse_args(argv)
        data = None
        if args.input is not None:
            try:
                data = json.loads(args.input)
            except json.JSONDecodeError as exc:
                raise UsageError(f"--input is not valid JSON: {exc}") from None
        ws = session.current()
        if args.thread is None:
            handle = ws.run(args.name, data, wait=False)
        elif isinstance(ws, RemoteWorkspace):
            raise UsageError(
                "%plait run: --thread needs a local workspace (%plait connect DIR); over the "
                "API, conversation threads belong to the chat surface"
            )
        else:
            handle = ws.run(args.name, data, wait=False, thread=args.thread)
        self._show(handle.id, wait=args.wait, timeout_s=args.timeout)

    def _cmd_show(self, argv: list[str]) -> None:
        p = _parser("%plait show")
        p.add_argument("run_id")
        p.add_argument("--wait", action="store_true")
        args = p.parse_args(argv)
        self._show(args.run_id, wait=args.wait)

    def _show(self, run_id: str, *, wait: bool, timeout_s: float = 60.0) -> RunView:
        view = RunView(session.current(), run_id)
        views.append(view)
        display(view)
        if wait:
            view.wait(timeout_s)
        return view

    def _cmd_runs(self, argv: list[str]) -> None:
        p = _parser("%plait runs")
        p.add_argument("name", nargs="?")
        p.add_argument("--limit", type=int, default=20)
        args = p.parse_args(argv)
        display(HTML(render.runs_table(session.current().runs(args.name, limit=args.limit))))

    def _cmd_publish(self, argv: list[str]) -> None:
        p = _parser("%plait publish")
        p.add_argument("name")
        args = p.parse_args(argv)
        ver = session.current().publish(args.name)
        display(HTML(render.message(f"{args.name!r} published as version {ver.number}")))

    def _cmd_workflows(self, argv: list[str]) -> None:
        items = session.current().list_workflows()
        text = ", ".join(w.slug for w in items) or "no workflows yet"
        display(HTML(render.message(text, title="workflows:")))

    def _answer(self, action: str, argv: list[str]) -> None:
        p = _parser(f"%plait {action}")
        p.add_argument("run_id", nargs="?")
        p.add_argument("--feedback")
        p.add_argument("--data")
        p.add_argument("--timeout", type=float, default=60.0)
        args = p.parse_args(argv)
        view = next((v for v in reversed(views) if args.run_id in (None, v.run_id)), None)
        if view is None:
            raise UsageError(f"%plait {action}: no run view shown for {args.run_id or 'any run'}")
        data = json.loads(args.data) if args.data else None
        view.answer(action, data=data, feedback=args.feedback, wait=True, timeout_s=args.timeout)
        display(HTML(render.message(f"run {view.run_id}: {action} → {view.status}")))

    def _cmd_approve(self, argv: list[str]) -> None:
        self._answer("approve", argv)

    def _cmd_reject(self, argv: list[str]) -> None:
        self._answer("reject", argv)
