"""What `botrt.storage` lends its sibling packages (the host, the VK adapters): not public API."""

from botrt.storage._conversations import MAX_STATE, StateRows
from botrt.storage._inbox import Fence, Inbox
from botrt.storage._lease import (
    Lease,
    LeaseBusyError,
    LeaseLostError,
    Leases,
    LeaseTiming,
    worker_id,
)

__all__ = [
    "MAX_STATE",
    "Fence",
    "Inbox",
    "Lease",
    "LeaseBusyError",
    "LeaseLostError",
    "LeaseTiming",
    "Leases",
    "StateRows",
    "worker_id",
]
