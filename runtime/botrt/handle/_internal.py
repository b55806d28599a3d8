"""What `botrt.handle` lends its sibling packages (the plugin loader, the host, platforms).

Not public API: plugins never import it. A sibling needing more of this
package adds the name here instead of importing a private module of it.
"""

from botrt.handle._ask import Dialogues, Waiter
from botrt.handle._done import DONE
from botrt.handle._failures import Reporter
from botrt.handle._flow import EXTENDER
from botrt.handle._graph import Graph
from botrt.handle._lane import LANE, Lane
from botrt.handle._plan import optional_service, uninjectable
from botrt.handle._routes import Gate
from botrt.handle._run import FlowRun
from botrt.handle._states import ConversationStates
from botrt.handle._texts import Texts

__all__ = [
    "DONE",
    "EXTENDER",
    "LANE",
    "ConversationStates",
    "Dialogues",
    "FlowRun",
    "Gate",
    "Graph",
    "Lane",
    "Reporter",
    "Texts",
    "Waiter",
    "optional_service",
    "uninjectable",
]
