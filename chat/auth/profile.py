"""The user's own data: profile (name, language, about me), export, and deleting it all.

The profile personalises the system prompt of every conversation (the personalised-assistant
pattern): the model is told whom it talks to and which language to answer in.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat.auth.preferences import read_preferences
from chat.errors import NotFound
from chat.storage import repository
from chat.storage.db import unit_of_work
from chat.validation import ABOUT, DISPLAY_NAME, LANGUAGE, clean


@dataclass(frozen=True)
class Profile:
    display_name: str
    language: str = ""
    about: str = ""

    @classmethod
    def of(cls, display_name: str, stored: dict[str, Any] | None) -> Profile:
        stored = stored or {}
        return cls(
            display_name=display_name,
            language=str(stored.get("language") or ""),
            about=str(stored.get("about") or ""),
        )


def personalised_prompt(system_prompt: str, profile: Profile | None) -> str:
    """The conversation's system prompt plus what the user told us about themselves."""
    if profile is None:
        return system_prompt
    lines = [system_prompt.strip()] if system_prompt.strip() else []
    facts = [f"The user's name is {profile.display_name}."]
    if profile.language:
        facts.append(f"Always answer in {profile.language}, the user's preferred language.")
    if profile.about:
        facts.append(f"About the user, in their own words: {profile.about}")
    lines.append(" ".join(facts))
    return "\n\n".join(lines)


@dataclass(frozen=True)
class Export:
    """Everything a user stored, ready for st.download_button."""

    json_text: str
    markdown: dict[str, str]  # file name -> Markdown of one conversation


class ProfileService:
    def __init__(self, *, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get(self, *, user_id: uuid.UUID) -> Profile:
        with unit_of_work(self.sessions) as session:
            user = repository.get_user(session=session, user_id=user_id)
            if user is None:
                raise NotFound("account not found")
            return Profile.of(user.display_name, user.profile)

    def update(self, *, user_id: uuid.UUID, display_name: str, language: str, about: str) -> None:
        name = clean(display_name, DISPLAY_NAME)
        language = clean(language, LANGUAGE)
        about = clean(about, ABOUT)
        with unit_of_work(self.sessions) as session:
            repository.update_profile(
                session=session,
                user_id=user_id,
                display_name=name,
                profile={"language": language, "about": about},
            )

    def export(self, *, user_id: uuid.UUID) -> Export:
        """All conversations with all their messages, as one JSON and one Markdown each; the
        JSON also holds the facts of the user's memory and their preferences."""
        with unit_of_work(self.sessions) as session:
            conversations = repository.list_all_conversations(session=session, user_id=user_id)
            messages = repository.all_messages(session=session, user_id=user_id)
            by_conversation: dict[uuid.UUID, list[dict[str, Any]]] = {}
            for message in messages:
                by_conversation.setdefault(message.conversation_id, []).append(
                    {
                        "position": message.position,
                        "role": message.role,
                        "status": message.status,
                        "content": message.content,
                        "created_at": _iso(message.created_at),
                        "meta": message.meta or {},
                    }
                )
            facts = [
                {
                    "content": fact.content,
                    "conversation_id": str(fact.conversation_id) if fact.conversation_id else None,
                    "origin": fact.origin,
                    "created_at": _iso(fact.created_at),
                }
                for fact in repository.list_facts(session=session, user_id=user_id)
            ]
            preferences = asdict(read_preferences(session, user_id=user_id))
            records: list[dict[str, Any]] = [
                {
                    "id": str(conversation.id),
                    "title": conversation.title,
                    "model": conversation.model,
                    "temperature": conversation.temperature,
                    "system_prompt": conversation.system_prompt,
                    "memory_strategy": conversation.memory_strategy,
                    "pinned": conversation.pinned,
                    "created_at": _iso(conversation.created_at),
                    "updated_at": _iso(conversation.updated_at),
                    "messages": by_conversation.get(conversation.id, []),
                }
                for conversation in conversations
            ]
        markdown = {}
        for record in records:
            name = f"{_slug(record['title'])}-{record['id'][:8]}.md"
            markdown[name] = conversation_markdown(record)
        return Export(
            json_text=json.dumps(
                {"conversations": records, "memory": facts, "preferences": preferences},
                ensure_ascii=False,
                indent=2,
            ),
            markdown=markdown,
        )

    def delete_all_conversations(self, *, user_id: uuid.UUID) -> int:
        """Every conversation of the user and all that is stored with them, the facts of
        their memory, and their preferences, back to the defaults ("delete my data");
        returns how many conversations."""
        with unit_of_work(self.sessions) as session:
            repository.delete_all_facts(session=session, user_id=user_id)
            repository.delete_preferences(session=session, user_id=user_id)
            return repository.delete_all_conversations(session=session, user_id=user_id)


def conversation_markdown(record: dict[str, Any]) -> str:
    speaker = {"human": "You", "ai": "Assistant", "system": "System"}
    parts = [f"# {record['title']}", "", f"_Model: {record['model']} · {record['created_at']}_"]
    for message in record["messages"]:
        note = "" if message["status"] == "complete" else f" ({message['status']})"
        parts += ["", f"**{speaker.get(message['role'], message['role'])}**{note}:", ""]
        parts.append(message["content"])
    return "\n".join(parts) + "\n"


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:40] or "conversation"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
