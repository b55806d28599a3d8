"""What `botrt.host` lends its sibling packages (the command line).

Not public API: plugins never import it. A sibling needing more of this
package adds the name here instead of importing a private module of it.
"""

from botrt.host._reload import Reloader

__all__ = ["Reloader"]
