"""``CheckpointConversations``: conversation memory as LangGraph threads (SPEC §7).

A conversation is a LangGraph thread ``conversation:<key>`` (key = user + channel + workflow)
on the same checkpointer as the runs, holding one ``messages`` channel with LangGraph's
``add_messages`` reducer: appending a message whose ``id`` is already there replaces it, so an
agent that re-executes after a crash does not repeat itself in the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

__all__ = ["CheckpointConversations"]


class _Thread(TypedDict):
    messages: Annotated[list[Any], add_messages]


def _keep(state: _Thread) -> dict[str, Any]:
    return {}


class CheckpointConversations:
    def __init__(self, checkpointer: Any) -> None:
        builder = StateGraph(_Thread)
        builder.add_node("keep", _keep)
        builder.add_edge(START, "keep")
        builder.add_edge("keep", END)
        self._graph = builder.compile(checkpointer=checkpointer)

    def open(self, thread: str) -> _Conversation:
        return _Conversation(self._graph, thread)


class _Conversation:
    def __init__(self, graph: Any, thread: str) -> None:
        self._graph = graph
        self._thread = thread
        self._config = {"configurable": {"thread_id": f"conversation:{thread}"}}

    @property
    def thread(self) -> str:
        return self._thread

    def messages(self) -> list[Any]:
        values = self._graph.get_state(self._config).values
        return list(values.get("messages", []))

    def append(self, messages: Sequence[Any]) -> None:
        if messages:
            self._graph.invoke({"messages": list(messages)}, self._config)
