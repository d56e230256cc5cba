# Production image: configured only by environment (see README, "Configuration").
# Build: docker build -t chat-app .   Run: see docker-compose.yml.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile -r requirements.txt
# Token counts are exact when tiktoken's encodings are cached; fetch them now if the build
# has network. Without them the app counts approximately and says so.
ENV TIKTOKEN_CACHE_DIR=/opt/tiktoken
RUN mkdir -p /opt/tiktoken \
    && (/opt/venv/bin/python -c "import tiktoken; tiktoken.get_encoding('o200k_base'); tiktoken.get_encoding('cl100k_base')" \
        || echo "tiktoken encodings not fetched: approximate token counts")

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TIKTOKEN_CACHE_DIR=/opt/tiktoken \
    APP_ENV=production \
    DATA_DIR=/data
RUN groupadd --system --gid 10001 chat \
    && useradd --system --uid 10001 --gid chat --home-dir /app --shell /usr/sbin/nologin chat \
    && mkdir -p /data && chown chat:chat /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/tiktoken /opt/tiktoken
WORKDIR /app
COPY --chown=chat:chat asgi.py streamlit_app.py ./
COPY --chown=chat:chat chat ./chat
COPY --chown=chat:chat pages ./pages
COPY --chown=chat:chat migrations ./migrations
COPY --chown=chat:chat .streamlit/config.toml ./.streamlit/config.toml
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]
CMD ["streamlit", "run", "asgi.py", "--server.port=8501", "--server.address=0.0.0.0"]
