"""Domain errors, in one place.

Each carries a sentence a non-technical user can read (`user_message`); the page shows that
sentence and the log keeps the traceback. Nothing in `chat/` swallows an error and returns None.
"""

from __future__ import annotations


class ChatError(Exception):
    """Base of every error the app expects and can explain."""

    user_message = "Something went wrong. Please try again."

    def __init__(self, detail: str | None = None) -> None:
        message = detail or type(self).user_message
        super().__init__(message)
        # Every detail we raise is written for the user; the traceback goes to the log.
        self.detail = message
        self.user_message = message


class ConfigurationError(ChatError):
    user_message = "The app is not configured correctly. An operator must fix its settings."


class NotFound(ChatError):
    """Missing, or owned by someone else: the two are deliberately indistinguishable."""

    user_message = "Conversation not found."


class InvalidInput(ChatError):
    """The user's text cannot be accepted as it is; the detail says why."""


class DatabaseUnavailable(ChatError):
    user_message = "The database is not reachable right now. Your text was not lost; try again."


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection stayed in use for the whole pool timeout: the app is
    overloaded, not broken, and saying so tells the user that waiting will help."""

    user_message = (
        "The app is busy right now and could not reach the database in time. "
        "Your text was not lost; try again in a moment."
    )


class ModelError(ChatError):
    user_message = "The model did not answer. Your message is saved; you can retry."


class Throttled(ChatError):
    """Too many failed attempts from this account or client; it clears by itself."""

    user_message = "Too many failed attempts. Wait a few minutes, then try again."


class AccountDisabled(ChatError):
    """The password was right, but an administrator has disabled the account."""

    user_message = "This account is disabled. Ask an administrator to enable it again."


class Forbidden(ChatError):
    """The signed-in user may not do this (e.g. an admin action by a non-admin)."""

    user_message = "You are not allowed to do that."


class LimitReached(ChatError):
    """A per-user limit (messages per minute, daily tokens); the text is kept for later.
    `retry_after`: seconds until the limit allows another message, when known."""

    user_message = "You have reached a usage limit. Your text was not sent; try again later."

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class AnswerInProgress(InvalidInput):
    """One answer at a time per conversation: a question sent while one is still arriving
    waits for it (the page sends it once the answer ends; the API says so)."""

    user_message = (
        "An answer is still arriving in this conversation. Send your message when it has "
        "finished, or stop it first."
    )


class SummaryFailed(ChatError):
    user_message = (
        "The memory summary could not be updated. Nothing is lost: the messages it has not "
        "absorbed are sent as they are, and the summary is retried after the next answer."
    )
