# The SLS portal's production image: gunicorn (web), Celery worker and beat
# all run from it (docker-compose.yml). Configuration comes from the
# environment at run time (.env.example, docs/operations.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 sls \
 && useradd --system --uid 10001 --gid sls --home-dir /app --no-create-home --shell /usr/sbin/nologin sls

WORKDIR /app

# The TrueType fonts embedded in the return form's PDF (Chinese and Japanese
# glyphs: the Tokyo return address, the labels in every language).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei fonts-ipafont-gothic \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected (hashed and compressed for WhiteNoise) at build
# time. Settings refuse to load without keys when DEBUG is off, so the build
# passes throw-away ones; they exist only for this command, not in the image.
# var/ (beat schedule, file mail) must be writable by the non-root user.
RUN SECRET_KEY=build-only-not-a-secret FIELD_ENCRYPTION_KEY=build-only-not-a-secret \
    python manage.py collectstatic --noinput \
 && mkdir -p var \
 && chown -R sls:sls var

USER sls
EXPOSE 8000
CMD ["gunicorn", "--config", "sls_portal/gunicorn.conf.py", "sls_portal.wsgi"]
