"""A fixed arena of expert slots, sized by the memory budget, that experts are read into."""

from moe.budget import ResidentTracker
from moe.loader import ExpertFiles, ExpertSlot


class ExpertPool:
    """Allocates as many slots as the budget allows and reads each requested expert into one.

    The plain version uses the slots round-robin and reads the expert's file every time it is
    asked for, even when the expert still sits in a slot from an earlier token.
    """

    def __init__(self, files: ExpertFiles, tracker: ResidentTracker):
        spec = files.spec
        count = tracker.budget // spec.expert_bytes
        if count < spec.top_k:
            raise ValueError(f"a budget of {tracker.budget} bytes holds {count} experts; "
                             f"a token needs {spec.top_k} at once")
        self.files = files
        self.tracker = tracker
        self.slots = []
        for _ in range(count):
            self.slots.append(ExpertSlot(spec))
            tracker.acquire(self.slots[-1].nbytes)
        self._next = 0

    def fetch(self, layer: int, expert: int) -> dict:
        """The expert's tensors by name, read from disk into the next slot."""
        slot = self.slots[self._next]
        self._next = (self._next + 1) % len(self.slots)
        self.files.read_into(layer, expert, slot)
        return slot.tensors
