"""What a protection layer holds, as data: each layer reports guards, and the sandbox's report reads them."""

from __future__ import annotations

from enum import StrEnum


class Guard(StrEnum):
    """One thing a program in the sandbox cannot do; the value is the words the report prints."""

    READS_OWN = "reads only system folders and its own"
    WRITES_OWN = "writes only inside its own folder"
    NO_TCP = "no TCP connections"
    NO_SIGNALS_OUT = "no signals to your other processes"
    NO_SOCKETS = "no sockets (UDP, Unix)"
    NO_GROUP_SIGNALS = "no signals to process groups"
