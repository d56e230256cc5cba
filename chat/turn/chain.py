"""The one path by which history enters the model.

`prompt | model`, wrapped in RunnableWithMessageHistory keyed on (user_id, conversation_id)
through `history_factory_config`. The config also names the answer's row, which the turn
engine stored before the model ran, so the history's own save (idempotent by id) finds the
reply stored instead of appending a second answer.
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core._api.deprecation import LangChainDeprecationWarning
from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import ConfigurableFieldSpec
from langchain_core.runnables.history import RunnableWithMessageHistory

from chat.turn.history import HistoryFactory

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "{system_prompt}"),
        MessagesPlaceholder("history"),
        MessagesPlaceholder("input"),
    ]
)

HISTORY_FACTORY_CONFIG = [
    ConfigurableFieldSpec(
        id="user_id",
        annotation=str,
        name="User id",
        description="Owner of the conversation.",
        default="",
        is_shared=True,
    ),
    ConfigurableFieldSpec(
        id="conversation_id",
        annotation=str,
        name="Conversation id",
        description="The conversation whose memory is used.",
        default="",
        is_shared=True,
    ),
    ConfigurableFieldSpec(
        id="reply_id",
        annotation=str,
        name="Reply id",
        description="The answer's row, stored before the model runs: the model's reply.",
        default="",
        is_shared=True,
    ),
    ConfigurableFieldSpec(
        id="turn",
        annotation=object,
        name="Turn input",
        description="This turn's system prompt and question (a ViewRequest), for the view.",
        default=None,
        is_shared=True,
    ),
]


def build_chain(*, model: BaseChatModel, history_factory: HistoryFactory) -> Any:
    """Build the chain for one model. Inputs: {"input": [HumanMessage], "system_prompt": str};
    config: {"configurable": {"user_id", "conversation_id", "reply_id", "turn"}}."""
    runnable = PROMPT | model
    with warnings.catch_warnings():
        # RunnableWithMessageHistory is deprecated since langchain-core 1.3.3 (removal in
        # 2.0). The product requires it, langchain-core is pinned below 2, and this is the
        # only place it is built: silence exactly that warning, here.
        warnings.filterwarnings(
            "ignore",
            message="RunnableWithMessageHistory is deprecated",
            category=LangChainDeprecationWarning,
        )
        return RunnableWithMessageHistory(
            runnable,
            history_factory,
            input_messages_key="input",
            history_messages_key="history",
            history_factory_config=HISTORY_FACTORY_CONFIG,
        )
