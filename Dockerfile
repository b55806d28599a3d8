# botrt in a container.
#
#   docker build -t botrt .
#   docker run -d --name mybot --restart unless-stopped \
#       -v "$PWD/mybot:/bot" --env-file mybot.env -p 127.0.0.1:8080:8080 botrt
#
# /bot is the bot folder: bot.toml, plugins/, and the SQLite database beside them.
# In a container, set `[server] host = "0.0.0.0"` in bot.toml so the published port
# reaches botrt's HTTP server (/healthz, /metrics, Callback API). See docs/operations.md.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package is built from (see .dockerignore); the wheel carries
# the built-in plugins.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY runtime/ runtime/
COPY plugins/ plugins/
RUN pip install . && cd / && rm -rf /src

VOLUME /bot
WORKDIR /bot
EXPOSE 8080

# botrt drains in-flight events on SIGTERM (up to 10 s), then exits 0.
STOPSIGNAL SIGTERM
CMD ["botrt", "serve"]
