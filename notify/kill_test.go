package notify_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearthiot/hearth/notify"
	"github.com/hearthiot/hearth/store"
)

// killChild names the environment variable that makes the test binary the
// child of TestKilledMidDelivery: a process with a store and a running
// notification service, killed with SIGKILL by the test.
const killChild = "HEARTH_NOTIFY_KILL_CHILD"

// killMessages is how many messages the child enqueues.
const killMessages = 300

func TestMain(m *testing.M) {
	if dir := os.Getenv(killChild); dir != "" {
		if err := runKillChild(dir, os.Getenv(killChild+"_URL")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		return
	}
	os.Exit(m.Run())
}

// runKillChild opens the store in dir, makes sure acme has a webhook
// channel to url, enqueues the messages (those enqueued by an earlier life
// are left out by their keys), delivers until killed.
func runKillChild(dir, url string) error {
	st, err := store.Open(filepath.Join(dir, "hearth.db"), store.Options{})
	if err != nil {
		return err
	}
	if err := st.CreateCustomer(store.Customer{Name: customer}); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	if _, err := st.CreateNotificationChannel(store.NotificationChannel{Customer: customer, Name: "hook", Kind: store.ChannelWebhook, URL: url}); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	cfg := fastConfig()
	cfg.RetryFor = time.Minute
	svc, err := notify.New(cfg, st, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if err := svc.Start(context.Background()); err != nil {
		return err
	}
	var msgs []notify.Message
	for i := range killMessages {
		msgs = append(msgs, alarm(fmt.Sprintf("kill-%03d", i), fmt.Sprintf("dev-%03d", i), notify.StateActive, "hook"))
	}
	if err := svc.Enqueue(context.Background(), msgs...); err != nil {
		return err
	}
	fmt.Println("ready")
	select {} // until killed
}

// TestKilledMidDelivery: a process delivering a full outbox is killed with
// SIGKILL twice, each time while deliveries are under way, and started
// again on its data: every message reaches the receiver, and a message is
// sent again at most once per kill (the one in flight when it came), with
// the same idempotency key, so a receiver that checks keys sees each
// message exactly once.
func TestKilledMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	var (
		mu   sync.Mutex
		keys = map[string]int{}
		bad  []string
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * time.Millisecond) // a receiver takes a moment: deliveries are in flight when the kill comes
		key := r.Header.Get(notify.HeaderIdempotencyKey)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Ce-Id") != "" || !strings.HasPrefix(key, "kill-") {
			bad = append(bad, key)
		}
		keys[key]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	distinct := func() (n, total int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range keys {
			n, total = n+1, total+c
		}
		return n, total
	}
	dir := t.TempDir()
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killChild+"="+dir, killChild+"_URL="+rcv.URL)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			ok := false
			for sc.Scan() {
				if sc.Text() == "ready" && !ok {
					ok = true
					ready <- true
				}
			}
			if !ok {
				ready <- false
			}
		}()
		select {
		case ok := <-ready:
			if !ok {
				t.Fatal("the child ended before it was ready")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the child was not ready in 30 s")
		}
		return cmd
	}
	for round, killAt := range []int{100, 200} {
		cmd := start()
		waitFor(t, 30*time.Second, fmt.Sprintf("%d messages before kill %d", killAt, round+1), func() bool { n, _ := distinct(); return n >= killAt })
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no graceful stop
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	start()
	waitFor(t, 60*time.Second, "every message after the last restart", func() bool { n, _ := distinct(); return n == killMessages })
	time.Sleep(500 * time.Millisecond) // nothing more comes
	n, total := distinct()
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("requests with wrong headers or keys: %q", bad)
	}
	if n != killMessages || total-n > 2 {
		t.Errorf("%d messages reached the receiver in %d requests; want %d, at most one sent again per kill", n, total, killMessages)
	}
	t.Logf("%d messages in %d requests across two kills", n, total)
}
