"""Accounting of the expert bytes the engine holds in memory: current, peak, and the budget."""

MB = 1024 * 1024


class ResidentTracker:
    """Counts bytes of expert weights held in the engine's own buffers; remembers the peak."""

    def __init__(self, budget_bytes: int):
        if budget_bytes <= 0:
            raise ValueError(f"the memory budget must be positive, not {budget_bytes}")
        self.budget = budget_bytes
        self.current = 0
        self.peak = 0

    def acquire(self, nbytes: int) -> None:
        """Record that `nbytes` more are held."""
        if nbytes < 0:
            raise ValueError(f"cannot acquire {nbytes} bytes")
        self.current += nbytes
        self.peak = max(self.peak, self.current)

    def release(self, nbytes: int) -> None:
        """Record that `nbytes` are no longer held."""
        if nbytes < 0 or nbytes > self.current:
            raise ValueError(f"cannot release {nbytes} bytes, {self.current} are held")
        self.current -= nbytes

    @property
    def peak_mb(self) -> float:
        return self.peak / MB

    @property
    def within_budget(self) -> bool:
        return self.peak <= self.budget
