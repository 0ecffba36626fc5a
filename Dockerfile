# Production image: slim Python, non-root user, gunicorn via `cdshooks serve`.
FROM python:3.11-slim

# Trusted clients are mounted at /etc/cdshooks (see deploy/docker-compose.yml); without a clients file
# `cdshooks serve` refuses to start. PostgreSQL deployments run `cdshooks db upgrade` once per release.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CDSHOOKS_DATABASE_URL=sqlite:////app/var/cdshooks.db \
    CDSHOOKS_CLIENTS_FILE=/etc/cdshooks/clients.yaml

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY cdshooks ./cdshooks
COPY cards ./cards
RUN pip install --constraint constraints.txt . \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin cds \
 && mkdir -p /app/var && chown cds:cds /app/var

USER cds
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"
ENTRYPOINT ["cdshooks", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["--workers", "2", "--threads", "4"]
