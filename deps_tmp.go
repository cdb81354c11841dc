//go:build deps

package main

import (
	_ "github.com/eclipse/paho.golang/paho"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/go-chi/chi/v5"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/valyala/fastjson"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/argon2"
	_ "github.com/VictoriaMetrics/metrics"
)
