"""Echo: the smallest useful plugin. `/echo TEXT` answers TEXT."""

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command

ECHO = PluginPlanner(version="1.0.0")


@ECHO.use
@on_command("echo", aliases=["say"], description="repeat the text", usage="echo TEXT")
async def echo(event: TextEvent, args: CommandArgs) -> None:
    await event.reply(str(args) or "(nothing to echo)")
