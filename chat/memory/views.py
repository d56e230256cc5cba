"""Reading one turn's view: the conversation's strategy, plus the user's memory block.

The one function the turn path calls to read what the model is sent of the history
(chat/turn/store.py with the question, chat/turn/history.py without): any strategy's view,
with the user-memory block (chat/memory/user_memory.py) in front when it applies.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from chat.memory.base import ContextView, MemoryStrategy, ViewRequest
from chat.memory.user_memory import memory_block


def read_view(session: Session, strategy: MemoryStrategy, request: ViewRequest) -> ContextView:
    view = strategy.load(session, request)
    block = memory_block(session, user_id=request.user_id, conversation_id=request.conversation_id)
    if block is None:
        return view
    return replace(view, messages=[block, *view.messages])
