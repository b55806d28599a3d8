"""What `botrt.config` lends its sibling packages (the host, the command line).

Not public API: plugins never import it. A sibling needing more of this
package adds the name here instead of importing a private module of it.
"""

from botrt.config._load import read_toml

__all__ = ["read_toml"]
