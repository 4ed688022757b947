# Images of the runner and the operator, from one build:
#   docker build --target runner   -t ghcr.io/switchyard/runner:0.1.0 .
#   docker build --target operator -t ghcr.io/switchyard/operator:0.1.0 .
# Both run as user 65532 (`nonroot`) and work with a read-only root filesystem; the
# operator image is distroless (the binary and glibc only).

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p switchyard-runner -p switchyard-operator -p kubectl-switchyard \
    && mkdir -p /out \
    && cp target/dist/runner target/dist/switchyard-operator target/dist/kubectl-switchyard /out/

# The runner needs an `ssh` client for SFTP Connections (opendal drives OpenSSH), so it
# is built on a slim Debian rather than distroless; still non-root and read-only.
FROM docker.io/library/debian:bookworm-slim AS runner
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 65532 --user-group --no-create-home --home-dir /nonexistent nonroot
COPY --from=build /out/runner /usr/local/bin/runner
# The kubectl plugin ships beside it: `docker cp` it out, or run it from the image.
COPY --from=build /out/kubectl-switchyard /usr/local/bin/kubectl-switchyard
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/runner"]
CMD ["run", "-f", "/etc/switchyard/catalog", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/switchyard"]

FROM gcr.io/distroless/cc-debian12:nonroot AS operator
COPY --from=build /out/switchyard-operator /usr/local/bin/switchyard-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/switchyard-operator"]
