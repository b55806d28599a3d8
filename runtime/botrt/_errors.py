"""The root of botrt's exception tree.

Every error botrt raises on purpose derives from `BotrtError`; all of them can
be imported from ``botrt`` and from the package that raises them. Some keep a
second, built-in base (shown in brackets), so ``except ValueError`` written
before the tree existed still catches them::

    BotrtError
    ├── ConfigError                  botrt.config     bot.toml refused; `issues` with key paths
    ├── SettingsSchemaError [TypeError]  botrt.config  a settings dataclass botrt cannot check
    ├── PluginLoadError              botrt.plugin     a plugin cannot load; `issues`
    ├── PluginNotLoadedError [ImportError]  botrt.plugin  `botrt_plugins.<plugin>` not running
    ├── LifecycleError               botrt.plugin     on_load/on_unload asks for the impossible
    ├── BackgroundError              botrt.plugin     background work with no running host
    ├── MemberLookupError            botrt.plugin     a member reference matches 0 or 2+ people
    ├── UnknownBotError              botrt.plugin     `bot` is not a running bot account
    ├── MetricError [ValueError]     botrt.plugin     a metric name or labels cannot register
    ├── BackoffConfigError [ValueError]  botrt        a `Backoff` with impossible delays
    ├── FlowCycleError               botrt.handle     a flow's graph would close a cycle
    ├── FlowContextError             botrt.handle     flow state asked for outside a run
    ├── InjectionError               botrt.handle     a node's parameter cannot be filled in
    ├── ScheduleError [ValueError]   botrt.handle     on_schedule cannot read a time or day
    ├── ConversationEnded            botrt.handle     a waiting ask() gets no answer (a stop)
    │   ├── ConversationTimeout                       no answer within the timeout
    │   └── ConversationCancelled                     the user sent a cancel word
    ├── ConversationDataError [ValueError]  botrt.handle  Conversation.set cannot store it
    ├── ReplyNotSupportedError       botrt.adapter    the event's platform cannot answer it
    ├── KeyboardError [ValueError]   botrt.adapter    a keyboard over a VK limit; `limit` names it
    ├── CatalogError                 botrt.i18n       a gettext catalog (.po) cannot be read
    ├── StorageError                 botrt.storage    bad URL, unreachable database, misuse
    │   ├── MigrationError                            a plugin schema cannot be migrated
    │   ├── LeaseBusyError                            a lease is held alive by another owner
    │   └── LeaseLostError                            a renewal found the lease taken over
    ├── VkError                      botrt.protocols.vk
    │   ├── VkConfigError [ValueError]                unusable VK settings
    │   ├── VkPayloadError                            VK sent something not as documented
    │   ├── VkTransportError                          VK unreachable after the retries
    │   └── VkApiError                                VK answered with an error object
    ├── TestHostError                botrt.testing    a TestHost used outside ``async with``
    ├── FakeVKError                  botrt.testing    FakeVK used wrongly
    └── PostgresError                botrt.testing    the throwaway PostgreSQL server failed
        └── PostgresNotInstalled                      no PostgreSQL binaries on this machine

Not in the tree, on purpose: the control signals of a flow run (`stop()`,
`bypass()`, `rewind()` raise `BaseException` subclasses the walk catches),
`botrt.handle.NoMatch` (a service provider's "skip this node"), the
retry markers inside the VK client, and the Long Poll's "another worker leads
now" in a cluster; none of them ever reaches a caller.
"""

from __future__ import annotations


class BotrtError(Exception):
    """Base class of every error botrt raises on purpose.

    Catch it to tell a botrt refusal (bad config, bad plugin, bad flow) from a
    bug in a handler. The module docstring of ``botrt._errors`` draws the tree.
    """
