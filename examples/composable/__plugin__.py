"""The seed's composable-API layout: an empty flow here, its nodes in flows/test-flows.py.

With ``auto_import=True`` every other file of the folder is imported after
this one, so ``flows/test-flows.py`` can extend ``test_flow`` without this
file importing it.
"""

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import Flow

TEST_PLUGIN = PluginPlanner(version="1.0.0", auto_import=True)

test_flow = Flow("test-flow")


@test_flow.set_guard
def only_trace_requests(event: object) -> bool:
    return isinstance(event, TextEvent) and event.text.strip() == "/trace"


TEST_PLUGIN.use(test_flow)
