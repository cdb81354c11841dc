# syntax=docker/dockerfile:1
# Build: docker build -t hearth .
# Run:   docker run -p 8443:8443 -p 8883:8883 -v hearth:/data hearth

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: a static binary for a distroless image; VictoriaMetrics then uses
# its pure-Go zstd.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/hearthiot/hearth/server/cli.Version=${VERSION}" \
      -o /out/hearth . \
 && mkdir -p /out/data
# The monthly energy report's PDF needs a TrueType font with Japanese
# glyphs; IPAex Gothic (IPA Font License) is copied into the image.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-ipaexfont-gothic >/dev/null

# distroless/static: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hearth /hearth
COPY --from=build /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf
COPY --from=build --chown=65532:65532 /out/data /data
ENV HEARTH_DATA=/data \
    HEARTH_HTTP=:8443 \
    HEARTH_MQTT=:8883
VOLUME /data
EXPOSE 8443 8883
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/hearth", "healthcheck"]
ENTRYPOINT ["/hearth"]
CMD ["serve"]
