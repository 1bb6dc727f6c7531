"""How the portal stand-in refuses a request."""
from __future__ import annotations


class Refusal(Exception):
    """What the portal answers with {code, description} and a 4xx status."""

    def __init__(self, status: int, code: str | int, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description
