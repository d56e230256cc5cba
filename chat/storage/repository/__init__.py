"""All SQL of the app, as keyword-only typed functions, one module per area.

Every function that touches user data takes `user_id` and filters by it (the memory views'
reads check it on the conversation they read, see messages.py): a conversation id from a
URL, a widget or a config is never trusted on its own. Helpers flush; the caller
(a service function holding the unit of work) commits. Callers use the package
(`repository.get_conversation(...)`): the modules are how it is kept readable.
"""

from chat.storage.repository.api_keys import *  # noqa: F403
from chat.storage.repository.conversations import *  # noqa: F403
from chat.storage.repository.lab import *  # noqa: F403
from chat.storage.repository.memory import *  # noqa: F403
from chat.storage.repository.messages import *  # noqa: F403
from chat.storage.repository.preferences import *  # noqa: F403
from chat.storage.repository.processes import *  # noqa: F403
from chat.storage.repository.recall import *  # noqa: F403
from chat.storage.repository.sessions import *  # noqa: F403
from chat.storage.repository.turns import *  # noqa: F403
from chat.storage.repository.user_memory import *  # noqa: F403
from chat.storage.repository.users import *  # noqa: F403
