"""The words of a refusal, for tests that hold them to the letter."""

import pytest
from salt.exceptions import CommandExecutionError


def refusal(call, *args, **kwargs) -> str:
    """What `call` says when it refuses: the CommandExecutionError it must raise."""
    with pytest.raises(CommandExecutionError) as refused:
        call(*args, **kwargs)
    return str(refused.value)
