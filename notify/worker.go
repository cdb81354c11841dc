package notify

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/hearthiot/hearth/store"
)

// worker delivers one channel's queue, one delivery at a time, so that a
// slow or failing receiver holds up its own channel only.
type worker struct {
	customer, channel string
	wake              chan struct{}
	limiter           *rate.Limiter
}

// maxDue bounds the deliveries a worker takes from its queue at once; a
// group window's messages fall due together, and all of them must be
// taken together to be grouped.
const maxDue = 10000

// pruneEvery is how often delivered and dead deliveries older than
// Config.Keep are deleted.
const pruneEvery = time.Hour

// dispatch wakes the worker of each channel whose queue holds deliveries,
// at every poll and at once after an Enqueue or a Retry, and prunes the
// outbox.
func (s *Service) dispatch() {
	defer s.wg.Done()
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	s.prune()
	for {
		queued, err := s.st.QueuedChannels()
		if err != nil {
			s.logger.Error("cannot read the outbox", "error", err)
		}
		for _, q := range queued {
			w := s.worker(q)
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-poll.C:
		case <-prune.C:
			s.prune()
		}
	}
}

func (s *Service) prune() {
	n, err := s.st.PruneDeliveries(s.now().Add(-s.cfg.Keep))
	if err != nil {
		s.logger.Error("cannot prune the outbox", "error", err)
	} else if n > 0 {
		s.logger.Info("outbox pruned", "deliveries", n, "older_than", s.cfg.Keep)
	}
}

// worker returns the worker of a channel, starting it the first time.
func (s *Service) worker(q [2]string) *worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.workers[q]; ok {
		return w
	}
	w := &worker{customer: q[0], channel: q[1], wake: make(chan struct{}, 1), limiter: rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)}
	s.workers[q] = w
	if s.running {
		s.wg.Add(1)
		go s.run(w)
	}
	return w
}

func (s *Service) run(w *worker) {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-w.wake:
		}
		s.drain(w)
	}
}

func (s *Service) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// drain delivers what is due in w's queue until nothing is.
func (s *Service) drain(w *worker) {
	for !s.stopping() {
		due, _, err := s.st.DueDeliveries(w.customer, w.channel, s.now(), maxDue)
		if err != nil {
			s.logger.Error("cannot read a channel's queue", "customer", w.customer, "channel", w.channel, "error", err)
			return
		}
		if len(due) == 0 {
			return
		}
		for _, d := range s.group(due) {
			if s.stopping() || w.limiter.Wait(s.soft) != nil {
				return
			}
			s.attempt(d)
		}
	}
}

// group replaces the due deliveries of each group and state that has more
// than Config.GroupMin of them, all on their first attempt, by one
// delivery that carries them; it keeps the order in which they fell due.
func (s *Service) group(due []store.Delivery) []store.Delivery {
	type gk struct{ group, state string }
	members := map[gk][]store.Delivery{}
	for _, d := range due {
		if d.Group != "" && d.Attempts == 0 && len(d.Members) == 0 {
			k := gk{d.Group, d.State}
			members[k] = append(members[k], d)
		}
	}
	out := make([]store.Delivery, 0, len(due))
	done := map[gk]bool{}
	for _, d := range due {
		k := gk{d.Group, d.State}
		ms, ok := members[k]
		if !ok || len(d.Members) > 0 || d.Attempts > 0 || len(ms) < 2 {
			out = append(out, d)
			continue
		}
		if done[k] {
			continue
		}
		done[k] = true
		g, err := s.summarize(ms)
		if err != nil {
			s.logger.Error("cannot group deliveries; sending them one by one", "customer", d.Customer, "channel", d.Channel, "group", d.Group, "error", err)
			out = append(out, ms...)
			continue
		}
		s.counter.grouped.Add(uint64(len(ms)))
		out = append(out, g)
	}
	return out
}

// summarize stores the delivery that carries ms.
func (s *Service) summarize(ms []store.Delivery) (store.Delivery, error) {
	msgs := make([]Message, 0, len(ms))
	ids := make([]uint64, 0, len(ms))
	deadline := ms[0].Deadline
	for _, d := range ms {
		var m Message
		if err := json.Unmarshal(d.Message, &m); err != nil {
			return store.Delivery{}, err
		}
		msgs = append(msgs, m)
		ids = append(ids, d.ID)
		if d.Deadline.Before(deadline) {
			deadline = d.Deadline
		}
	}
	first := ms[0]
	key := "group-" + strconv.FormatUint(first.ID, 10)
	body, err := json.Marshal(summarize(key, msgs, s.now().UTC()))
	if err != nil {
		return store.Delivery{}, err
	}
	return s.st.GroupDeliveries(store.Delivery{
		Key: key, Customer: first.Customer, Channel: first.Channel, Group: first.Group, State: first.State,
		Message: body, NextAttempt: s.now().UTC(), Deadline: deadline,
	}, ids)
}

// attempt sends one delivery and records the outcome: delivered, due
// again after a backoff, or dead.
func (s *Service) attempt(d store.Delivery) {
	ch, err := s.st.GetNotificationChannel(d.Customer, d.Channel)
	var res Result
	switch {
	case errors.Is(err, store.ErrNotFound):
		res = Result{Error: "the channel was deleted", Permanent: true}
	case err != nil:
		s.logger.Error("cannot read a notification channel", "customer", d.Customer, "channel", d.Channel, "error", err)
		return
	default:
		var m Message
		if err := json.Unmarshal(d.Message, &m); err != nil {
			res = Result{Error: "the stored message cannot be read: " + err.Error(), Permanent: true}
			break
		}
		ctx, cancel := context.WithTimeout(s.hard, s.cfg.Timeout)
		res = s.send(ctx, ch, m, &d, true)
		cancel()
	}
	d.Attempts++
	now := s.now().UTC()
	if res.Delivered {
		d.Status, d.DeliveredAt, d.LastError = store.DeliveryDelivered, now, ""
		s.counter.delivered.Add(1)
	} else {
		s.counter.failed.Add(1)
		d.LastError = res.Error
		next := now.Add(s.backoff(d.Attempts))
		if res.RetryAfter > 0 && now.Add(res.RetryAfter).After(next) {
			next = now.Add(min(res.RetryAfter, s.cfg.MaxBackoff))
		}
		if res.Permanent || next.After(d.Deadline) {
			d.Status = store.DeliveryDead
			s.counter.dead.Add(1)
			s.logger.Warn("notification given up", "customer", d.Customer, "channel", d.Channel, "key", d.Key, "attempts", d.Attempts, "error", res.Error)
		} else {
			d.NextAttempt = next
		}
	}
	// Recorded at once after the answer: a restart resumes from here, and
	// sends a delivered message again only when it stops between the two.
	if err := s.st.PutDeliveries(d); err != nil {
		s.logger.Error("cannot record a delivery's outcome", "customer", d.Customer, "channel", d.Channel, "key", d.Key, "status", d.Status, "error", err)
	}
}

// backoff is the wait after the attempts-th failed attempt: FirstRetry
// doubled for each attempt before it, at most MaxBackoff, of which a
// random half is taken off so that channels failing together spread out.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.FirstRetry
	for i := 1; i < attempts && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
