# Passgate server, worker and operator commands in one image (non-root, no build tools).
#   docker build -t passgate .
#   docker run --env-file passgate.env passgate serve
# The image's default command is `passgate serve`; compose.yaml runs the whole stack.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m venv /opt/passgate \
 && /opt/passgate/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c constraints.txt . \
 && find /opt/passgate -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim
# xmlsec1 verifies SAML signatures (pysaml2 calls the binary).
RUN apt-get update \
 && apt-get install -y --no-install-recommends xmlsec1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/passgate --create-home passgate
COPY --from=build /opt/passgate /opt/passgate
ENV PATH=/opt/passgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PASSGATE_HOST=0.0.0.0 \
    PASSGATE_PORT=8000 \
    PASSGATE_DATA_DIR=/var/lib/passgate
USER passgate
WORKDIR /var/lib/passgate
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["passgate"]
CMD ["serve"]
