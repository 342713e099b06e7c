# Multi-stage build: compile in the Rust image, run as a non-root user in a slim Debian image.
# (Not built on the development machines of this project — there is no Docker engine there —
# so it is kept correct by reading; see README "Deploying".)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin onestop

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/onestop --create-home onestop
COPY --from=build /src/target/release/onestop /usr/local/bin/onestop
USER onestop
WORKDIR /var/lib/onestop
ENV ONESTOP_BIND=0.0.0.0:8080 \
    ONESTOP_DATA_DIR=/var/lib/onestop \
    ONESTOP_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/onestop"]
CMD ["serve"]
