# mock-api and loadgen in one small image.
#
#   docker build -t acis-mock .
#   docker run --rm -p 127.0.0.1:8000:8000 acis-mock            # mock-api on :8000
#   docker run --rm --entrypoint loadgen acis-mock --help       # loadgen, same image
#
# Stage 1 compiles both release binaries with the workspace's Cargo.lock and strips
# them (the release profile keeps line tables for profiling); stage 2 is
# Debian slim with the two binaries, curl for the health check, and a non-root user.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The whole workspace is needed: Cargo resolves every member even when building two.
COPY . .
RUN cargo build --release --locked -p mock-api -p loadgen \
 && mkdir -p /out \
 && cp target/release/mock-api target/release/loadgen /out/ \
 && strip /out/mock-api /out/loadgen

FROM debian:bookworm-slim
# Versions follow the bookworm point release the base image is built from.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 acis \
 && useradd --system --uid 10001 --gid acis --home-dir /data --shell /usr/sbin/nologin acis \
 && mkdir -p /data /out \
 && chown acis:acis /data /out
COPY --from=build /out/mock-api /out/loadgen /usr/local/bin/
USER 10001:10001
# mock-api's default SQLite file lands here when no DATABASE_URL is given.
WORKDIR /data
EXPOSE 8000
# Inside a container mock-api must listen on every interface for other containers (and
# a published port) to reach it; publish the port on 127.0.0.1 only.
ENTRYPOINT ["mock-api"]
CMD ["--bind", "0.0.0.0", "--port", "8000"]
# /health answers 503 while the database does not respond; curl -f fails on it.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/health"]
