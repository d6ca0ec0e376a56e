# otpd in a container: a slim Python base, a non-root user, the data directory on a volume.
# Build: docker build -t otpd .    Run: docker run -p 8080:8080 -v otpd-data:/var/lib/otpd otpd
# See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OTPD_DATA_DIR=/var/lib/otpd \
    OTPD_HOST=0.0.0.0 \
    OTPD_PORT=8080

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-compile .[radius] \
 && useradd --system --uid 10001 --home-dir /var/lib/otpd --shell /usr/sbin/nologin otpd \
 && mkdir -p /var/lib/otpd \
 && chown otpd:otpd /var/lib/otpd \
 && chmod 0700 /var/lib/otpd \
 && rm -rf /src

WORKDIR /var/lib/otpd
USER otpd
VOLUME ["/var/lib/otpd"]
EXPOSE 8080 1812/udp

# Readiness, not liveness: a sealed Shamir node is alive but must not receive traffic.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"]

ENTRYPOINT ["otpd"]
CMD ["serve"]
