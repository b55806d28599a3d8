"""Nodes of `test_flow`, added with the composable API from another file."""

from __plugin__ import test_flow as f

from botrt.adapter import TextEvent
from botrt.handle import FlowStore, node


@f.add
@node
async def n1(store: FlowStore) -> None:
    store.setdefault("path", []).append("n1")


@f.after(n1)
@node
async def n2(store: FlowStore) -> None:
    store["path"].append("n2")


@f.merge(n1, n2)
@node
async def n3(store: FlowStore) -> None:
    store["path"].append("n3")


@f.before(n1)
@node
async def n_pre1(store: FlowStore) -> None:
    store.setdefault("path", []).append("n_pre1")


@f.fork(n_pre1, n1)
@node
async def n_pre2(store: FlowStore) -> None:
    store.setdefault("path", []).append("n_pre2")


@f.after(n3)
@node
async def report(event: TextEvent, store: FlowStore) -> None:
    # n3 is reached by four paths, so this runs four times; each reply shows the path so far.
    await event.reply(" ".join(store["path"]))
