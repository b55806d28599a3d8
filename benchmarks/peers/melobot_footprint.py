"""melobot 3.5.1's side of the footprint benchmark: a console bot with three trivial
plugin folders (one command each), loaded with ``load_plugins_dir`` and run with
``bot.run()`` as melobot's docs show. Run with the melobot venv's python, in a
pseudo-terminal: melobot's console source is a prompt_toolkit session and needs one.

``python melobot_footprint.py PLUGINS_DIR``; ``/help`` answers ``help: ping, echo``.
"""

import sys
import textwrap
from pathlib import Path

from melobot import Bot
from melobot.protocols.console import ConsoleProtocol

PLUGIN = """
from melobot import PluginPlanner
from melobot.adapter.generic import send_text
from melobot.handle import on_command

@on_command("/", " ", "{cmd}")
async def {cmd}() -> None:
    await send_text("{answer}")

{name} = PluginPlanner("1.0.0", flows=[{cmd}])
"""

COMMANDS = {
    "helpp": ("help", "help: ping, echo"),
    "ping": ("ping", "pong"),
    "echo": ("echo", "echo"),
}


def main() -> None:
    root = Path(sys.argv[1])
    for name, (cmd, answer) in COMMANDS.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        source = PLUGIN.format(cmd=cmd, answer=answer, name=name.upper())
        (folder / "__plugin__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    bot = Bot("footprint")
    bot.add_protocol(ConsoleProtocol())
    bot.load_plugins_dir(root)
    bot.run()


if __name__ == "__main__":
    main()
