from datetime import timedelta


def backoff(attempts: int, *, first: timedelta, cap: timedelta) -> timedelta:
    """Exponential back-off: `first` after the first failure, doubling, never more than `cap`."""
    return min(first * (2 ** max(attempts - 1, 0)), cap)
