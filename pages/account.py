"""Account page: profile, preferences, password, API keys, export of all conversations,
deleting data.

Only draws: every read and write is one call into chat/.
"""

from __future__ import annotations

import streamlit as st

from chat.auth.preferences import THEMES
from chat.errors import ChatError
from chat.llm.factory import model_label
from chat.markup import plain
from chat.validation import MAX_SYSTEM_PROMPT_CHARS
from pages.parts.api_keys import draw_api_keys
from pages.parts.dialogs import close_dialog, open_dialog, request_dialog
from pages.support import runtime
from pages.support.web_auth import client_key

THEME_LABELS = {"system": "Same as my device", "light": "Light", "dark": "Dark"}
SAVED_KEY = "_preferences_saved"

services = runtime.services()
account = runtime.account()

with st.sidebar:
    st.page_link("pages/chat.py", label="Back to chat", icon=":material/chat:")

st.title("Account")
st.caption(f"Signed in as {account.username}")

try:
    profile = services.profiles.get(user_id=account.id)
except ChatError as exc:
    st.error(exc.user_message)
    st.stop()
preferences = runtime.preferences()  # read, and the theme applied, by the entry point

st.subheader("Profile")
with st.form("profile"):
    display_name = st.text_input(
        "Display name", value=profile.display_name, max_chars=200, key="profile-name"
    )
    language = st.text_input(
        "Preferred language",
        key="profile-language",
        value=profile.language,
        max_chars=40,
        placeholder="e.g. English, Français, Deutsch",
        help="The assistant answers in this language.",
    )
    about = st.text_area(
        "About me",
        key="profile-about",
        value=profile.about,
        max_chars=1000,
        help="A few words the assistant should know about you (job, interests, style).",
    )
    if st.form_submit_button("Save profile", type="primary"):
        try:
            services.profiles.update(
                user_id=account.id, display_name=display_name, language=language, about=about
            )
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            st.success("Profile saved. Your next messages use it.")

st.subheader("Preferences")
models = services.conversations.available_models()
model_options = ["", *models]
app_default = f"The app's default: {model_label(services.settings, models[0])}"
if preferences.default_model and preferences.default_model not in models:
    st.caption(
        f"Your default model, {plain(preferences.default_model)}, is no longer offered here: "
        "new conversations use the app's default until you choose another."
    )
with st.form("preferences"):
    theme = st.radio(
        "Theme",
        THEMES,
        index=THEMES.index(preferences.theme),
        format_func=THEME_LABELS.__getitem__,
        horizontal=True,
        key="pref-theme",
        help="“Same as my device” follows your browser's light or dark setting.",
    )
    show_details = st.toggle(
        "Show answer details",
        value=preferences.show_answer_details,
        key="pref-details",
        help="Token counts, the context inspector (what the model was sent) and the buttons "
        "under each answer: for demos of the memory strategies. Off keeps the chat plain.",
    )
    default_model = st.selectbox(
        "Model for new conversations",
        model_options,
        index=model_options.index(preferences.default_model)
        if preferences.default_model in model_options
        else 0,
        format_func=lambda name: model_label(services.settings, name) if name else app_default,
        key="pref-model",
    )
    persona = st.text_area(
        "Persona for new conversations (system prompt)",
        value=preferences.default_persona,
        max_chars=MAX_SYSTEM_PROMPT_CHARS,
        placeholder=services.settings.default_system_prompt,
        key="pref-persona",
        help="Each new conversation starts with these instructions; empty: the app's "
        "default. A conversation's own can still be changed in its settings.",
    )
    if st.form_submit_button("Save preferences", type="primary"):
        try:
            services.preferences.save(
                user_id=account.id,
                theme=theme,
                show_answer_details=show_details,
                default_model=default_model,
                default_persona=persona,
            )
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            st.session_state[SAVED_KEY] = True
            st.rerun()  # the page reads them again, and shows the theme chosen
if st.session_state.pop(SAVED_KEY, False):
    st.success("Preferences saved. New conversations start with them.")

st.subheader("Password")
with st.form("password", clear_on_submit=True):
    st.caption("Changing your password signs you out everywhere, including here.")
    current_password = st.text_input("Current password", type="password", key="current-password")
    new_password = st.text_input("New password", type="password", key="new-password")
    repeat = st.text_input("Repeat new password", type="password", key="repeat-password")
    if st.form_submit_button("Change password"):
        if new_password != repeat:
            st.error("The two passwords differ. Type the same password twice.")
        else:
            try:
                services.accounts.change_password(
                    username=account.username,
                    current=current_password,
                    new=new_password,
                    client=client_key(services.settings),
                )
            except ChatError as exc:
                st.error(exc.user_message)
            else:
                st.success("Password changed. You are signed out: log in with the new password.")
                st.button("Log in again", on_click=st.query_params.clear)

draw_api_keys(services, account)

st.subheader("Export")
st.caption("All your conversations: one JSON file, or one Markdown file per conversation.")
if st.button("Prepare export", icon=":material/download:"):
    try:
        st.session_state["_export"] = services.profiles.export(user_id=account.id)
    except ChatError as exc:
        st.error(exc.user_message)
export = st.session_state.get("_export")
if export is not None:
    st.download_button(
        "Download everything (JSON)",
        data=export.json_text,
        file_name="conversations.json",
        mime="application/json",
        icon=":material/data_object:",
    )
    if not export.markdown:
        st.caption("You have no conversations yet.")
    for index, (name, text) in enumerate(export.markdown.items()):
        st.download_button(
            plain(name), data=text, file_name=name, mime="text/markdown", key=f"export-md-{index}"
        )


@st.dialog("Delete all your conversations?", on_dismiss=close_dialog)
def delete_everything() -> None:
    st.markdown(
        "Every conversation and every message you stored is deleted, and so are the facts on "
        "your Memory page; your preferences go back to their defaults. This cannot be undone. "
        "Your account stays, so you can keep chatting."
    )
    confirm = st.text_input("Type DELETE to confirm", key="delete-all-confirm")
    if st.button("Delete everything", type="primary", disabled=confirm != "DELETE"):
        try:
            count = services.profiles.delete_all_conversations(user_id=account.id)
        except ChatError as exc:
            st.error(exc.user_message)
        else:
            close_dialog()
            st.session_state.pop("_export", None)
            st.session_state["_deleted"] = count
            st.rerun()


st.subheader("Delete my data")
st.caption("To delete a single conversation, use its ⋮ menu in the chat sidebar.")
deleted = st.session_state.pop("_deleted", None)
if deleted is not None:
    st.success(f"Deleted {deleted} conversation{'s' if deleted != 1 else ''}.")
if st.button("Delete all my conversations…", icon=":material/delete_forever:"):
    request_dialog("delete-all")
if open_dialog("delete-all"):
    delete_everything()
