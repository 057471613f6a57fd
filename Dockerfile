# netsword: one image for the web console, the scheduler, crawl workers and the one-shot setup.
# Chromium + CJK fonts for browser-rendered pages and screenshots (without fonts-noto-cjk every
# Chinese character in a screenshot is an empty box).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NETSWORD_HOME=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium chromium-headless-shell fonts-noto-cjk curl ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 netsword \
 && mkdir -p /data && chown netsword:netsword /data

WORKDIR /app
# dependencies first (cached while only the code changes)
COPY setup.cfg pyproject.toml README.md ./
RUN mkdir -p crawler pipelines leads && touch crawler/__init__.py pipelines/__init__.py leads/__init__.py cli.py \
 && pip install -e . && rm -rf crawler pipelines leads cli.py
COPY . .
# editable: rules/, crawler/sites/ and campaigns/ are read from /app at run time
RUN pip install --no-deps -e . && chown -R netsword:netsword /app

USER netsword
VOLUME ["/data"]
ENTRYPOINT ["tini", "--"]
CMD ["netsword", "--help"]
