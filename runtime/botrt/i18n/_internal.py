"""What `botrt.i18n` lends its sibling packages (the plugin loader).

Not public API: plugins never import it. A sibling needing more of this
package adds the name here instead of importing a private module of it.
"""

from botrt.i18n._translator import LOADING

__all__ = ["LOADING"]
