"""A user's preferences, set on the Account page: the theme, whether answers show their
details, and the model and persona (system prompt) a new conversation starts with.

Defaults are for daily use: the browser's colour scheme, no answer details (token counts,
the context inspector and per-answer buttons are for demos, one click away), and the app's
own model and system prompt. A user who never saved anything has no row and every default.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy.orm import Session, sessionmaker

from chat.errors import InvalidInput
from chat.settings import OFFLINE, Settings
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.validation import MAX_SYSTEM_PROMPT_CHARS, TextField, clean

Theme = Literal["system", "light", "dark"]
THEMES: tuple[Theme, ...] = get_args(Theme)

# Becomes a new conversation's system prompt, so it has the system prompt's limit.
PERSONA = TextField("The default persona", MAX_SYSTEM_PROMPT_CHARS, shape="block", required=False)


@dataclass(frozen=True)
class Preferences:
    theme: Theme = "system"  # system: follow the browser's prefers-color-scheme
    show_answer_details: bool = False
    default_model: str = ""  # empty: the app's default model
    default_persona: str = ""  # empty: the app's default system prompt


def offered_models(settings: Settings) -> list[str]:
    """The models a conversation can use here: the configured ones, plus the offline model
    (always there, needs no network)."""
    choices = list(settings.model_choices)
    return choices if OFFLINE in choices else [*choices, OFFLINE]


def read_preferences(session: Session, *, user_id: uuid.UUID) -> Preferences:
    """The user's preferences inside a unit of work the caller holds (one primary-key read)."""
    row = repository.get_preferences(session=session, user_id=user_id)
    if row is None:
        return Preferences()
    theme: Theme = row.theme if row.theme in THEMES else "system"
    return Preferences(
        theme=theme,
        show_answer_details=row.show_answer_details,
        default_model=row.default_model,
        default_persona=row.default_persona,
    )


def new_conversation_model(settings: Settings, preferences: Preferences) -> str:
    """The model a new conversation gets: the user's default while it is still offered here
    (the configured models may have changed since), else the app's first model."""
    if preferences.default_model in offered_models(settings):
        return preferences.default_model
    return settings.model_choices[0]


def new_conversation_prompt(settings: Settings, preferences: Preferences) -> str:
    """The system prompt a new conversation gets: the user's persona, else the app's."""
    return preferences.default_persona or settings.default_system_prompt


class PreferenceService:
    def __init__(self, *, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def get(self, *, user_id: uuid.UUID) -> Preferences:
        """For every page view that needs them: one primary-key read."""
        with unit_of_work(self.sessions) as session:
            return read_preferences(session, user_id=user_id)

    def save(
        self,
        *,
        user_id: uuid.UUID,
        theme: str,
        show_answer_details: bool,
        default_model: str,
        default_persona: str,
    ) -> Preferences:
        """All four at once (the Account page's form); InvalidInput leaves them as they were.
        `default_model` is "" (the app's default) or one of offered_models()."""
        if theme not in THEMES:
            raise InvalidInput(f"Choose a theme: {', '.join(THEMES)}.")
        if default_model and default_model not in offered_models(self.settings):
            raise InvalidInput(f"The model {default_model!r} is not available here.")
        persona = clean(default_persona, PERSONA)
        with unit_of_work(self.sessions) as session:
            repository.save_preferences(
                session=session,
                user_id=user_id,
                theme=theme,
                show_answer_details=show_answer_details,
                default_model=default_model,
                default_persona=persona,
            )
        return Preferences(
            theme=theme,  # checked against THEMES above
            show_answer_details=show_answer_details,
            default_model=default_model,
            default_persona=persona,
        )

    def set_show_answer_details(self, *, user_id: uuid.UUID, show: bool) -> None:
        """The one switch a page may flip on its own (the chat page, for a demo)."""
        with unit_of_work(self.sessions) as session:
            repository.save_preferences(session=session, user_id=user_id, show_answer_details=show)
